"""Labels of the supervisor's pages (the team's matrix in review mode), Korean first."""

TEXT: dict[str, dict[str, str]] = {
    "sv_review_mode": {
        "ko": "팀 상담사의 단계를 검토하고 확인 서명합니다. 응답과 목표는 수정할 수 없으며, "
              "본인이 제출한 단계는 검토하거나 서명할 수 없습니다.",
        "en": "You review and countersign your team's steps. Answers and goals cannot be edited "
              "here, and nobody reviews or signs a step they submitted.",
    },
}
