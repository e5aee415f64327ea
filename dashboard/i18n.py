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
    "login_needed": {"ko": "이 화면은 로그인한 뒤에 볼 수 있습니다.", "en": "Log in to see this page."},
    "login_cross_site": {"ko": "다른 사이트에서 보낸 로그인 요청은 받지 않습니다. 이 화면에서 다시 로그인하십시오.", "en": "A log-in sent from another site is refused. Log in again on this page."},
    "one_time_password": {"ko": "일회용 비밀번호", "en": "One-time password"},
    "new_password": {"ko": "새 비밀번호", "en": "New password"},
    "new_password_again": {"ko": "새 비밀번호 확인", "en": "New password again"},
    "new_passwords_differ": {"ko": "새 비밀번호 두 칸이 서로 다릅니다. 다시 입력하십시오.", "en": "The two new passwords differ. Type them again."},
    "password_change_required": {"ko": "관리자가 발급한 일회용 비밀번호입니다. 일회용 비밀번호를 다시 입력하고, 본인만 아는 새 비밀번호를 정하십시오.", "en": "This is a one-time password from the admin. Type it again and choose a new password of your own."},
    "session_ended": {"ko": "세션이 종료되었습니다. 다시 로그인하십시오.", "en": "Your session has ended. Please log in again."},
    "language": {"ko": "언어", "en": "Language"},
    "home": {"ko": "홈", "en": "Home"},
    "signed_in_as": {"ko": "로그인 계정", "en": "Signed in as"},
    "role_counselor": {"ko": "상담사", "en": "Counselor"},
    "role_supervisor": {"ko": "슈퍼바이저", "en": "Supervisor"},
    "role_committee": {"ko": "평가위원회", "en": "Evaluation committee"},
    "role_analyst": {"ko": "분석 담당자", "en": "Analyst"},
    "role_reviewer": {"ko": "탐지 검토자", "en": "Detection reviewer"},
    "role_admin": {"ko": "관리자", "en": "Administrator"},
    "role_partner": {"ko": "협력 기관 (매칭 API)", "en": "Partner (matching API)"},
    "role_educator": {"ko": "예방교육 강사", "en": "Prevention educator"},
    "caseload": {"ko": "담당 사례", "en": "Caseload"},
    "study_code": {"ko": "연구 코드", "en": "Study code"},
    "cohort": {"ko": "기수", "en": "Cohort"},
    "programme": {"ko": "프로그램", "en": "Programme"},
    "enrolled_on": {"ko": "등록일", "en": "Enrolled on"},
    "status": {"ko": "상태", "en": "Status"},
    "no_caseload": {"ko": "배정된 참여자가 없습니다.", "en": "No participants are assigned to you."},
    "audit_log": {"ko": "감사 기록", "en": "Audit log"},
    "verify_chain": {"ko": "해시 체인 검증", "en": "Verify the hash chain"},
    "chain_ok": {"ko": "감사 기록의 해시 체인이 온전합니다 ({n}건, 외부 체크포인트 {points}개 일치).", "en": "The audit hash chain is intact ({n} entries; {points} outside checkpoints hold)."},
    "chain_incomplete": {"ko": "감사 기록이 외부 체크포인트와 맞지 않습니다: {reason}", "en": "The audit log does not match its outside checkpoints: {reason}"},
    "chain_broken": {"ko": "감사 기록 {id}번에서 체인이 끊어졌습니다: {reason}", "en": "The audit chain is broken at entry {id}: {reason}"},
    "accounts": {"ko": "계정 관리", "en": "Accounts"},
    "access_denied": {"ko": "접근 권한이 없습니다", "en": "Access denied"},
    "welcome": {"ko": "{name} 님, 환영합니다.", "en": "Welcome, {name}."},
    "status_active": {"ko": "참여 중", "en": "Active"},
    "status_completed": {"ko": "수료", "en": "Completed"},
    "status_dropped_out": {"ko": "중도 탈락", "en": "Dropped out"},
    "status_transferred": {"ko": "이관", "en": "Transferred"},
    "participant": {"ko": "참여자", "en": "Participant"},
    "participant_page": {"ko": "참여자 기록", "en": "Participant record"},
    "choose_participant": {"ko": "참여자 선택 (연구 코드)", "en": "Choose a participant (study code)"},
    "sessions": {"ko": "회기 기록", "en": "Sessions"},
    "record_session": {"ko": "회기 기록하기", "en": "Record a session"},
    "session_date": {"ko": "회기 날짜", "en": "Session date"},
    "minutes": {"ko": "시간(분)", "en": "Minutes"},
    "modality": {"ko": "방식", "en": "Modality"},
    "attendance": {"ko": "출석", "en": "Attendance"},
    "topics": {"ko": "주제", "en": "Topics"},
    "notes": {"ko": "상담 메모 (피해자 식별 정보 금지)", "en": "Notes (nothing that identifies a victim)"},
    "save": {"ko": "저장", "en": "Save"},
    "saved": {"ko": "저장되었습니다.", "en": "Saved."},
    "confirm_title": {"ko": "확인해 주십시오", "en": "Please confirm"},
    "confirm_yes": {"ko": "확인하고 진행", "en": "Confirm and go ahead"},
    "confirm_no": {"ko": "취소", "en": "Cancel"},
    "session_timeline": {"ko": "회기 경과", "en": "Session timeline"},
    "no_sessions": {"ko": "기록된 회기가 없습니다.", "en": "No sessions recorded yet."},
    "show_identity": {"ko": "인적 사항 보기 (열람 기록됨)", "en": "Show identity (the read is logged)"},
    "name": {"ko": "이름", "en": "Name"},
    "birth_date": {"ko": "생년월일", "en": "Birth date"},
    "contact": {"ko": "연락처", "en": "Contact"},
    "guardian_contact": {"ko": "보호자 연락처", "en": "Guardian's contact"},
    "break_glass": {"ko": "담당 외 참여자 열람 (사유 필수)", "en": "Open a participant outside my caseload (reason required)"},
    "study_code_input": {"ko": "연구 코드", "en": "Study code"},
    "reason": {"ko": "사유", "en": "Reason"},
    "open": {"ko": "열람", "en": "Open"},
    "not_found": {"ko": "해당 참여자를 찾을 수 없습니다.", "en": "No such participant."},
    "mod_in_person": {"ko": "대면", "en": "In person"},
    "mod_video": {"ko": "화상", "en": "Video"},
    "mod_phone": {"ko": "전화", "en": "Phone"},
    "mod_group": {"ko": "집단", "en": "Group"},
    "att_attended": {"ko": "출석", "en": "Attended"},
    "att_late": {"ko": "지각", "en": "Late"},
    "att_absent": {"ko": "결석", "en": "Absent"},
    "att_cancelled": {"ko": "취소", "en": "Cancelled"},
    "topic_consent": {"ko": "동의", "en": "Consent"},
    "topic_gender_norms": {"ko": "성 역할 고정관념", "en": "Gender norms"},
    "topic_harm_to_victims": {"ko": "피해의 이해", "en": "Harm to victims"},
    "topic_online_conduct": {"ko": "온라인 행동", "en": "Online conduct"},
    "topic_law_and_consequences": {"ko": "법과 책임", "en": "Law and consequences"},
    "topic_family": {"ko": "가족", "en": "Family"},
    "date_axis": {"ko": "날짜", "en": "Date"},
    "add_account": {"ko": "계정 추가", "en": "Add an account"},
    "role": {"ko": "역할", "en": "Role"},
    "display_name": {"ko": "표시 이름", "en": "Display name"},
    "disable": {"ko": "비활성화", "en": "Disable"},
    "active": {"ko": "활성", "en": "Active"},
    "locked": {"ko": "잠김", "en": "Locked"},
    "open_sessions": {"ko": "접속 중인 세션", "en": "Open sessions"},
    "end_session": {"ko": "세션 종료", "en": "End session"},
    "access_review": {"ko": "월간 접근 점검", "en": "Monthly access review"},
    "month_start": {"ko": "시작일", "en": "From"},
    "month_end": {"ko": "종료일", "en": "To"},
    "filter_actor": {"ko": "계정으로 거르기", "en": "Filter by account"},
    "filter_action": {"ko": "행위로 거르기", "en": "Filter by action"},
    "denials_and_reids": {"ko": "거부·재식별·잠금 기록", "en": "Denials, re-identifications, lock-outs"},
    "exports": {"ko": "내려받기 기록", "en": "Downloads"},
    "purpose": {"ko": "내려받기 목적", "en": "Purpose of this download"},
    "prepare_download": {"ko": "내려받기 준비", "en": "Prepare the download"},
    "download_csv": {"ko": "CSV 내려받기", "en": "Download CSV"},
    "count_sessions": {"ko": "회기 수", "en": "Sessions"},
    "choose": {"ko": "선택하십시오", "en": "Choose"},
    "find_code": {"ko": "연구 코드로 찾기 (일부만 입력해도 됩니다)", "en": "Find by study code (part of it will do)"},
    "find_code_more": {"ko": "찾은 {total}개 중 처음 {shown}개만 고를 수 있습니다. 연구 코드로 좁히십시오.",
                       "en": "The first {shown} of {total} codes found can be chosen: narrow them by study code."},
    "tbl_sort_by": {"ko": "정렬 기준", "en": "Sort by"},
    "tbl_descending": {"ko": "내림차순", "en": "Descending"},
    "tbl_page": {"ko": "쪽 (전체 {pages}쪽)", "en": "Page (of {pages})"},
    "tbl_rows_shown": {
        "ko": "전체 {total}행 중 {first}-{last}행을 보입니다. 표의 열 머리를 누르면 이 쪽 안에서만 "
              "정렬되니, 전체를 정렬하려면 '정렬 기준'을 고르십시오.",
        "en": "Rows {first}-{last} of {total}. Clicking a column header sorts this page only; "
              "choose \"Sort by\" to sort them all."},
    "pages_coming": {"ko": "이 역할의 업무 화면은 메뉴에서 선택하십시오.", "en": "Choose your work from the menu."},
}


def _merge_area_texts() -> None:
    """Each area of the dashboard keeps its labels in dashboard/text_<area>.py (a TEXT dict)."""
    import importlib

    for area in ("home", "counselor", "supervisor", "committee", "analyst", "reviewer", "admin",
                 "prevention"):
        try:
            module = importlib.import_module(f"dashboard.text_{area}")
        except ModuleNotFoundError:
            continue
        clash = set(module.TEXT) & set(TEXT)
        if clash:
            raise RuntimeError(f"dashboard/text_{area}.py repeats label keys: {sorted(clash)}")
        for key, entry in module.TEXT.items():
            if set(entry) != {"ko", "en"}:
                raise RuntimeError(f"label {key!r} in text_{area}.py needs exactly 'ko' and 'en'")
        TEXT.update(module.TEXT)


_merge_area_texts()


def t(key: str, lang: str = "ko", **kwargs: object) -> str:
    entry = TEXT[key]
    text = entry.get(lang) or entry["ko"]
    return text.format(**kwargs) if kwargs else text


def label(prefix: str, value: str, lang: str = "ko") -> str:
    """The label of a coded value (a status, a topic), or the code itself when none is written."""
    return t(prefix + value, lang) if (prefix + value) in TEXT else value
