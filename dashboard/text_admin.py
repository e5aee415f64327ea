"""Labels of the admin's pages that are not in dashboard/i18n.py (Korean first)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "rv_reasons": {"ko": "재식별·담당 외 열람 사유", "en": "Reasons for re-identifications and break-glass openings"},
    "rv_reasons_intro": {
        "ko": "사유는 암호화되어 따로 보관되고, 감사 기록에는 사유가 있었다는 사실(길이와 해시)과 보관 번호만 남습니다. "
              "사유를 열어 보는 일도 감사 기록에 남습니다.",
        "en": "Reasons are kept encrypted apart; the audit log keeps only that one was given (its length and hash) "
              "and its number. Opening a reason is recorded in the audit log too.",
    },
    "rv_reason_id": {"ko": "사유 번호", "en": "Reason number"},
    "rv_no_reasons": {"ko": "이 기간에 보관된 사유가 없습니다.", "en": "No reason is kept for this period."},
    "rv_show_reason": {"ko": "사유 보기", "en": "Show the reason"},
    "rv_reason_text": {"ko": "사유 {id} ({who}, {at:%Y-%m-%d %H:%M}): {text}", "en": "Reason {id} ({who}, {at:%Y-%m-%d %H:%M}): {text}"},
    "rv_reason_corrected": {"ko": "{who}이(가) {at:%Y-%m-%d %H:%M}에 정정함", "en": "corrected by {who} at {at:%Y-%m-%d %H:%M}"},
    "rv_reason_erased": {"ko": "사유 {id}은(는) {who}이(가) {at:%Y-%m-%d %H:%M}에 삭제했습니다.",
                         "en": "Reason {id} was erased by {who} at {at:%Y-%m-%d %H:%M}."},
    "rv_correct_form": {"ko": "사유 정정", "en": "Correct the reason"},
    "rv_correct_text": {"ko": "정정한 사유 (피해자를 식별할 수 있는 정보는 적지 마십시오)",
                        "en": "The corrected reason (nothing that identifies a victim)"},
    "rv_correct": {"ko": "정정 저장", "en": "Save the correction"},
    "rv_corrected_ok": {"ko": "사유 {id}을(를) 정정했습니다.", "en": "Reason {id} is corrected."},
    "rv_erase_confirm": {"ko": "이 사유를 영구히 삭제합니다 (되돌릴 수 없습니다).",
                         "en": "Erase this reason for good (it cannot be undone)."},
    "rv_erase": {"ko": "사유 삭제", "en": "Erase the reason"},
    "rv_erased_ok": {"ko": "사유 {id}을(를) 삭제했습니다.", "en": "Reason {id} is erased."},
    "rv_confirm_required": {"ko": "삭제하려면 확인란을 선택하십시오.", "en": "Tick the confirmation to erase."},
}
