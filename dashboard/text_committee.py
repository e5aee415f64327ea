"""Labels of the evaluation committee's pages (outcomes, programme reviews, sign-off), Korean first."""

TEXT: dict[str, dict[str, str]] = {
    "cm_fit_models": {"ko": "혼합 모형 적합 (참여자가 많으면 시간이 걸립니다)", "en": "Fit the mixed models (slow for a large programme)"},
    "cm_models_on_request": {"ko": "혼합 모형은 위의 스위치를 켜면 적합합니다.", "en": "Turn on the switch above to fit the mixed models."},
    # page titles
    "cm_outcomes": {"ko": "프로그램 성과", "en": "Programme outcomes"},
    "cm_reviews": {"ko": "프로그램 평가 (성인지 감수성)", "en": "Programme reviews (gender sensitivity)"},
    "cm_signoff": {"ko": "종결 단계 승인", "en": "Sign-off of conclusions"},
    # grouping
    "cm_group_by": {"ko": "집계 기준", "en": "Group by"},
    "cm_by_none": {"ko": "전체 참여자", "en": "All participants"},
    "cm_by_cohort": {"ko": "기수", "en": "Cohort"},
    "cm_by_programme": {"ko": "프로그램", "en": "Programme"},
    "cm_by_age_band": {"ko": "연령대 (의뢰 시)", "en": "Age band (at referral)"},
    "cm_by_offence_type": {"ko": "범죄 유형", "en": "Offence type"},
    "cm_total": {"ko": "전체", "en": "Total"},
    "cm_grp_Total": {"ko": "전체", "en": "Total"},
    "cm_grp_multiple": {"ko": "복수 유형", "en": "Several types"},
    "cm_grp_unknown": {"ko": "미상", "en": "Unknown"},
    "cm_grp_illegal_filming": {"ko": "불법촬영", "en": "Illegal filming"},
    "cm_grp_non_consensual_distribution": {"ko": "비동의 유포", "en": "Non-consensual distribution"},
    "cm_grp_possession_or_viewing": {"ko": "소지·시청", "en": "Possession or viewing"},
    "cm_grp_sextortion_or_coercion": {"ko": "성적 협박·강요", "en": "Sextortion or coercion"},
    "cm_grp_synthetic_sexual_imagery": {"ko": "허위영상물 (딥페이크)", "en": "Synthetic sexual imagery (deepfake)"},
    "cm_grp_grooming": {"ko": "온라인 그루밍", "en": "Grooming"},
    "cm_grp_other": {"ko": "기타", "en": "Other"},
    # age bands: vocab.AGE_BANDS (the same codes as the analyst's an_age_ labels)
    "cm_grp_under_14": {"ko": "14세 미만", "en": "Under 14"},
    "cm_grp_14_15": {"ko": "14-15세", "en": "14-15 years"},
    "cm_grp_16_18": {"ko": "16-18세", "en": "16-18 years"},
    "cm_grp_19_over": {"ko": "19세 이상", "en": "19 and over"},
    # domains and steps
    "cm_dom_gender_sensitivity": {"ko": "성인지 감수성", "en": "Gender sensitivity"},
    "cm_dom_gender_equality": {"ko": "성평등 의식", "en": "Gender equality awareness"},
    "cm_dom_digital_sex_crime_understanding": {"ko": "디지털 성범죄에 대한 이해", "en": "Understanding of digital sex crimes"},
    "cm_dom_engagement": {"ko": "참여도", "en": "Engagement"},
    "cm_dom_responsibility_taking": {"ko": "책임 수용", "en": "Responsibility taking"},
    "cm_dom_victim_harm_understanding": {"ko": "피해에 대한 이해", "en": "Understanding of harm to victims"},
    "cm_step_planning": {"ko": "사전 (계획 단계)", "en": "Pre (planning)"},
    "cm_step_midterm": {"ko": "중간 평가", "en": "Midterm"},
    "cm_step_conclusion": {"ko": "사후 (종결 단계)", "en": "Post (conclusion)"},
    # outcomes page
    "cm_outcomes_intro": {
        "ko": "승인(서명)된 평가만 집계합니다. 참여자를 식별할 수 있는 정보는 표시하지 않습니다.",
        "en": "Only signed assessments are counted. Nothing that identifies a participant is shown.",
    },
    "cm_suppression_note": {
        "ko": "소표본 보호: 인원이 {threshold}명 미만인 칸은 \"<{threshold}\"로 표시하고 그 칸의 수치는 비워 둡니다. "
              "\"x\"는 합계에서 빼서 작은 칸을 알아낼 수 없도록 함께 가린 칸입니다.",
        "en": "Small-cell protection: counts under {threshold} show as \"<{threshold}\" and their figures are left "
              "empty; \"x\" marks a cell hidden as well so that a small one cannot be worked out from a total.",
    },
    "cm_effect_note": {
        "ko": "효과 크기: d_z는 평균 변화를 변화 점수의 표준편차로 나눈 값(변화가 얼마나 일관된가), "
              "d_av는 두 시점 점수의 평균 표준편차로 나눈 값(점수 분포에 비해 변화가 얼마나 큰가)입니다. "
              "Hedges' g는 d_av의 소표본 보정값입니다. 해석 기준(Cohen): 0.2 미만 미미, 0.2 작음, 0.5 중간, 0.8 큼.",
        "en": "Effect sizes: d_z is the mean change divided by the SD of the changes (how consistent the change is); "
              "d_av divides it by the average SD of the two steps (how large the change is against the spread of "
              "scores). Hedges' g is d_av with a small-sample correction. Labels (Cohen): under 0.2 negligible, "
              "0.2 small, 0.5 medium, 0.8 large.",
    },
    "cm_es_negligible": {"ko": "미미", "en": "negligible"},
    "cm_es_small": {"ko": "작음", "en": "small"},
    "cm_es_medium": {"ko": "중간", "en": "medium"},
    "cm_es_large": {"ko": "큼", "en": "large"},
    "cm_means_title": {"ko": "{domain}: 단계별 평균 (95% 신뢰구간)", "en": "{domain}: mean by step (95% CI)"},
    "cm_axis_step": {"ko": "평가 단계", "en": "Step"},
    "cm_axis_score": {"ko": "평균 점수 (척도 점수)", "en": "Mean score (scale points)"},
    "cm_chart_empty": {
        "ko": "모든 칸이 소표본 보호로 가려져 그래프에 표시할 평균이 없습니다.",
        "en": "Every cell is hidden by small-cell protection: there is no mean to plot.",
    },
    "cm_step_means": {"ko": "단계별 평균", "en": "Means by step"},
    "cm_paired_change": {"ko": "단계 간 변화 (대응표본 검정, 효과 크기, 신뢰변화)", "en": "Change between steps (paired tests, effect sizes, reliable change)"},
    "cm_model": {"ko": "혼합 모형 (세 단계, 참여자별 무선 절편): 고정 효과와 95% 신뢰구간",
                 "en": "Mixed model (three steps, random intercept per participant): fixed effects with 95% CIs"},
    "cm_model_none": {"ko": "모형 없음", "en": "No model"},
    "cm_model_n": {"ko": "참여자 {n}명", "en": "{n} participants"},
    "cm_model_not_converged": {"ko": "모형 추정이 수렴하지 않았습니다. 해석에 주의하십시오.", "en": "The model did not converge: read it with care."},
    "cm_term_Intercept": {"ko": "절편 (사전 평균)", "en": "Intercept (pre mean)"},
    "cm_term_step[midterm]": {"ko": "중간 평가 - 사전", "en": "Midterm minus pre"},
    "cm_term_step[conclusion]": {"ko": "사후 - 사전", "en": "Post minus pre"},
    "cm_no_outcomes": {"ko": "아직 승인된 평가가 없습니다.", "en": "No signed assessments yet."},
    # column headers
    "cm_col_group": {"ko": "집단", "en": "Group"},
    "cm_col_step": {"ko": "단계", "en": "Step"},
    "cm_col_pair": {"ko": "비교 단계", "en": "Steps compared"},
    "cm_col_n": {"ko": "인원 (n)", "en": "n"},
    "cm_col_mean": {"ko": "평균", "en": "Mean"},
    "cm_col_sd": {"ko": "표준편차", "en": "SD"},
    "cm_col_ci": {"ko": "95% 신뢰구간", "en": "95% CI"},
    "cm_col_mean_pre": {"ko": "이전 평균", "en": "Mean before"},
    "cm_col_mean_post": {"ko": "이후 평균", "en": "Mean after"},
    "cm_col_mean_diff": {"ko": "평균 변화", "en": "Mean change"},
    "cm_col_t": {"ko": "t", "en": "t"},
    "cm_col_p": {"ko": "p (t 검정)", "en": "p (t test)"},
    "cm_col_wilcoxon_p": {"ko": "p (윌콕슨)", "en": "p (Wilcoxon)"},
    "cm_col_p_f": {"ko": "p (F 검정)", "en": "p (F test)"},
    "cm_col_p_model": {"ko": "p (Wald z 검정)", "en": "p (Wald z test)"},
    "cm_col_d_z": {"ko": "d_z (95% 신뢰구간)", "en": "d_z (95% CI)"},
    "cm_col_d_av": {"ko": "d_av", "en": "d_av"},
    "cm_col_hedges_g": {"ko": "헤지스 g (Hedges' g)", "en": "Hedges' g"},
    "cm_col_share_improved": {"ko": "신뢰할 만한 향상", "en": "Reliably improved"},
    "cm_col_share_deteriorated": {"ko": "신뢰할 만한 악화", "en": "Reliably deteriorated"},
    "cm_col_term": {"ko": "항", "en": "Term"},
    "cm_col_coef": {"ko": "추정값", "en": "Estimate"},
    "cm_col_se": {"ko": "표준오차", "en": "SE"},
    # exports
    "cm_export": {"ko": "내보내기", "en": "Export"},
    "cm_export_csv": {"ko": "성과 표 CSV (소표본 보호 적용)", "en": "Outcomes table as CSV (small cells suppressed)"},
    "cm_export_report": {"ko": "인쇄용 보고서 (HTML)", "en": "Printable report (HTML)"},
    "cm_download_report": {"ko": "보고서 내려받기 (report.html)", "en": "Download the report (report.html)"},
    "cm_report_title": {"ko": "프로그램 성과 보고서", "en": "Programme outcomes report"},
    "cm_report_generated_on": {"ko": "작성일", "en": "Generated on"},
    "cm_report_footer": {
        "ko": "비식별 집계 자료입니다. 이 보고서에는 연구 코드나 참여자 번호가 없습니다.",
        "en": "De-identified aggregates only: no study code or participant id is in this report.",
    },
    "cm_report_print_hint": {
        "ko": "내려받은 파일을 브라우저에서 열고 인쇄(PDF로 저장)하십시오.",
        "en": "Open the downloaded file in a browser and print it (or save it as PDF).",
    },
    # reviews page
    "cm_reviews_intro": {
        "ko": "각 프로그램을 네 가지 성인지 감수성 지표로 평가합니다(1-5점). 같은 기간에 다시 평가하면 이전 점수를 대신합니다.",
        "en": "Rate each programme on the four gender-sensitivity indicators (1-5). A new rating for the same "
              "period replaces your earlier one.",
    },
    "cm_rubric": {"ko": "평가 기준 (1-5점)", "en": "Rubric (1-5)"},
    "cm_rubric_text": {
        "ko": "1 = 전혀 반영되지 않음 · 2 = 부분적으로 반영되나 부족함 · 3 = 보통 (기본 요소는 있음) · "
              "4 = 잘 반영됨 · 5 = 매우 잘 반영되어 모범이 됨",
        "en": "1 = not addressed · 2 = partly addressed, with gaps · 3 = adequate (the basics are there) · "
              "4 = well addressed · 5 = exemplary",
    },
    "cm_ind_gender_sensitive_language": {"ko": "성인지적 언어 사용", "en": "Gender-sensitive language"},
    "cm_ind_consent_and_boundaries": {"ko": "동의와 경계 교육", "en": "Consent and boundaries"},
    "cm_ind_power_and_gender_norms": {"ko": "권력과 성별 고정관념 다루기", "en": "Power and gender norms"},
    "cm_ind_victim_perspective": {"ko": "피해자 관점 반영", "en": "Victim perspective"},
    "cm_ind_(all)": {"ko": "전체 지표", "en": "All indicators"},
    "cm_ind_help_gender_sensitive_language": {
        "ko": "프로그램 자료와 진행이 성별 고정관념이나 피해자 비난 표현 없이 성인지적 언어를 쓰는가",
        "en": "Materials and facilitation use gender-sensitive language, free of stereotypes and victim blaming",
    },
    "cm_ind_help_consent_and_boundaries": {
        "ko": "동의의 의미, 온라인에서의 경계와 이미지 공유의 책임을 구체적으로 다루는가",
        "en": "Consent, online boundaries and responsibility for sharing images are taught concretely",
    },
    "cm_ind_help_power_and_gender_norms": {
        "ko": "성별 권력 관계와 고정관념이 디지털 성범죄와 어떻게 이어지는지 다루는가",
        "en": "How gendered power and norms lead to digital sex crimes is addressed",
    },
    "cm_ind_help_victim_perspective": {
        "ko": "피해의 영향과 피해자의 관점을 이해하도록 돕는가 (피해자를 식별하지 않고)",
        "en": "Helps participants understand harm and the victim's perspective (without identifying anyone)",
    },
    "cm_period": {"ko": "평가 기간 (예: 2026-H1)", "en": "Review period (e.g. 2026-H1)"},
    "cm_choose_programme": {"ko": "프로그램", "en": "Programme"},
    "cm_comment": {"ko": "의견 (선택, 개인 식별 정보 금지)", "en": "Comment (optional, nothing that identifies anyone)"},
    "cm_save_ratings": {"ko": "평가 저장", "en": "Save the ratings"},
    "cm_ratings_saved": {"ko": "평가가 저장되었습니다.", "en": "Ratings saved."},
    "cm_rating_missing": {"ko": "{indicator}: 점수를 선택하십시오 (1-5).", "en": "{indicator}: choose a score (1-5)."},
    "cm_summary": {"ko": "프로그램별 평균 평가", "en": "Mean rating per programme"},
    "cm_summary_chart": {"ko": "프로그램 × 지표 평균 평가 (1-5점; 오차 막대: 표준편차)", "en": "Mean rating by programme and indicator (1-5; error bars: SD)"},
    "cm_axis_rating": {"ko": "평균 점수 (1-5점)", "en": "Mean rating (1-5)"},
    "cm_agreement": {"ko": "평가자 간 일치도 (급내상관계수 ICC, 95% 신뢰구간)", "en": "Agreement between raters (ICC with 95% CI)"},
    "cm_agreement_note": {
        "ko": "ICC(2,1)은 평가자 한 명의 신뢰도, ICC(2,k)는 평가자 k명 평균의 신뢰도입니다(이원 무선, 절대 일치). "
              "프로그램 수가 적으면 신뢰구간이 매우 넓습니다.",
        "en": "ICC(2,1) is the reliability of one rater, ICC(2,k) of the mean of k raters (two-way random, "
              "absolute agreement). With few programmes the intervals are very wide.",
    },
    "cm_no_agreement": {"ko": "일치도를 계산할 수 없습니다: {why}", "en": "Agreement cannot be computed: {why}"},
    "cm_col_programme": {"ko": "프로그램", "en": "Programme"},
    "cm_col_indicator": {"ko": "지표", "en": "Indicator"},
    "cm_col_min": {"ko": "최저", "en": "Min"},
    "cm_col_max": {"ko": "최고", "en": "Max"},
    "cm_col_n_raters": {"ko": "평가자 수", "en": "Raters"},
    "cm_col_type": {"ko": "유형", "en": "Type"},
    "cm_col_icc": {"ko": "ICC", "en": "ICC"},
    "cm_col_n_programmes": {"ko": "프로그램 수", "en": "Programmes"},
    "cm_no_programmes": {"ko": "평가할 프로그램이 없습니다.", "en": "There is no programme to rate."},
    # sign-off page
    "cm_signoff_intro": {
        "ko": "기수 단위로 종결 단계(사후 평가)를 승인합니다. 참여자 신원은 표시되지 않으며, 인원은 소표본 보호 규칙에 따라 표시됩니다. "
              "승인하면 해당 평가가 잠기고, 위원회 결정은 감사 기록에 남습니다.",
        "en": "Sign off conclusion steps by cohort. No identity is shown, and counts follow the small-cell rule. "
              "Signing locks the assessments; the committee's decision is kept in the audit log.",
    },
    "cm_col_cohort": {"ko": "기수", "en": "Cohort"},
    "cm_col_awaiting_review": {"ko": "검토 대기 (제출됨)", "en": "Awaiting review (submitted)"},
    "cm_col_awaiting_signoff": {"ko": "승인 대기 (검토 완료)", "en": "Awaiting sign-off (reviewed)"},
    "cm_col_signed": {"ko": "승인 완료", "en": "Signed"},
    "cm_signoff_form": {"ko": "기수 승인", "en": "Sign off a cohort"},
    "cm_show_every_cohort": {"ko": "모든 기수 보기 (대기 중인 단계가 없는 기수 포함)", "en": "Show every cohort (also those with nothing waiting)"},
    "cm_choose_cohort": {"ko": "기수 선택", "en": "Choose a cohort"},
    "cm_decision": {"ko": "위원회 결정 (예: 2026-07-14 평가위원회 회의에서 종결 평가 승인)",
                    "en": "The committee's decision (e.g. approved at the committee meeting of 2026-07-14)"},
    "cm_confirm_signoff": {"ko": "검토 완료된 종결 단계를 모두 승인합니다 (승인 후 평가가 잠깁니다).",
                           "en": "Sign off every reviewed conclusion step (the assessments will be locked)."},
    "cm_sign": {"ko": "승인", "en": "Sign off"},
    "cm_confirm_required": {"ko": "승인하려면 확인란을 선택하십시오.", "en": "Tick the confirmation to sign off."},
    "cm_signed_ok": {"ko": "{cohort}: 검토 완료된 종결 단계를 승인했습니다.", "en": "{cohort}: the reviewed conclusion steps are signed off."},
    "cm_nothing_awaiting": {"ko": "승인을 기다리는 종결 단계가 없습니다.", "en": "No conclusion step is awaiting sign-off."},
    "cm_no_cohorts": {"ko": "등록된 기수가 없습니다.", "en": "There are no cohorts yet."},
}
