"""Every label of the dashboard in Korean and English; Korean first (GLOSSARY.md gives the words)."""

from __future__ import annotations

LANGUAGES = {"ko": "한국어", "en": "English"}

TEXT: dict[str, dict[str, str]] = {
    "app_title": {"ko": "디지털 성범죄 아동·청소년 가해자 상담 프로그램", "en": "Counseling programme for child and teen perpetrators of digital sex crimes"},
    "login": {"ko": "로그인", "en": "Log in"},
    "username": {"ko": "아이디", "en": "Username"},
    "password": {"ko": "비밀번호", "en": "Password"},
    "login_failed": {"ko": "아이디 또는 비밀번호가 맞지 않거나, 지금은 로그인할 수 없는 계정입니다.", "en": "The username or password is not right, or the account cannot log in now."},
    "privacy_title": {"ko": "개인정보 보호 안내", "en": "Privacy notice"},
    "privacy_notice": {
        "ko": "이 시스템은 아동·청소년 참여자와 피해자에 관한 민감정보(성생활, 범죄경력)를 다룹니다. "
              "업무에 필요한 정보만 열람하고, 피해자를 식별할 수 있는 정보는 기록하지 마십시오. "
              "모든 열람과 변경은 감사 기록에 남으며 매월 점검됩니다.",
        "en": "This system holds sensitive information (sex life, criminal history) about child and teen "
              "participants and about victims. Open only what your work needs and never record anything "
              "that identifies a victim. Every read and change is kept in the audit log and reviewed monthly.",
    },
    "privacy_ack": {"ko": "위 안내를 읽었고 이에 따르겠습니다.", "en": "I have read this notice and will follow it."},
    "privacy_required": {"ko": "개인정보 보호 안내에 동의해야 로그인할 수 있습니다.", "en": "Acknowledge the privacy notice to log in."},
    "logout": {"ko": "로그아웃", "en": "Log out"},
    "logout_everywhere": {"ko": "모든 기기에서 로그아웃", "en": "Log out everywhere"},
    "session_ended": {"ko": "세션이 종료되었습니다. 다시 로그인하십시오.", "en": "Your session has ended. Please log in again."},
    "language": {"ko": "언어", "en": "Language"},
    "home": {"ko": "홈", "en": "Home"},
    "signed_in_as": {"ko": "로그인 계정", "en": "Signed in as"},
    "role_counselor": {"ko": "상담사", "en": "Counselor"},
    "role_committee": {"ko": "평가위원회", "en": "Evaluation committee"},
    "role_analyst": {"ko": "분석 담당자", "en": "Analyst"},
    "role_reviewer": {"ko": "탐지 검토자", "en": "Detection reviewer"},
    "role_admin": {"ko": "관리자", "en": "Administrator"},
    "caseload": {"ko": "담당 사례", "en": "Caseload"},
    "study_code": {"ko": "연구 코드", "en": "Study code"},
    "cohort": {"ko": "기수", "en": "Cohort"},
    "programme": {"ko": "프로그램", "en": "Programme"},
    "enrolled_on": {"ko": "등록일", "en": "Enrolled on"},
    "status": {"ko": "상태", "en": "Status"},
    "no_caseload": {"ko": "배정된 참여자가 없습니다.", "en": "No participants are assigned to you."},
    "audit_log": {"ko": "감사 기록", "en": "Audit log"},
    "verify_chain": {"ko": "해시 체인 검증", "en": "Verify the hash chain"},
    "chain_ok": {"ko": "감사 기록의 해시 체인이 온전합니다 ({n}건).", "en": "The audit hash chain is intact ({n} entries)."},
    "chain_broken": {"ko": "감사 기록 {id}번에서 체인이 끊어졌습니다: {reason}", "en": "The audit chain is broken at entry {id}: {reason}"},
    "accounts": {"ko": "계정 관리", "en": "Accounts"},
    "access_denied": {"ko": "접근 권한이 없습니다", "en": "Access denied"},
    "welcome": {"ko": "{name} 님, 환영합니다.", "en": "Welcome, {name}."},
    "status_active": {"ko": "참여 중", "en": "Active"},
    "status_completed": {"ko": "수료", "en": "Completed"},
    "status_dropped_out": {"ko": "중도 탈락", "en": "Dropped out"},
    "status_transferred": {"ko": "이관", "en": "Transferred"},
    "pages_coming": {"ko": "이 역할의 업무 화면은 메뉴에서 선택하십시오.", "en": "Choose your work from the menu."},
}


def t(key: str, lang: str = "ko", **kwargs: object) -> str:
    entry = TEXT[key]
    text = entry.get(lang) or entry["ko"]
    return text.format(**kwargs) if kwargs else text
