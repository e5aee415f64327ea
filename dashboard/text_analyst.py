"""Labels of the analyst's pages (recidivism, risk models, cohort explorer), Korean first."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    # page titles (menu)
    "an_recidivism": {"ko": "재범 추적 분석", "en": "Recidivism over follow-up"},
    "an_models": {"ko": "재범 위험성 모델", "en": "Risk models"},
    "an_cohort": {"ko": "분석 대상 탐색·추적 관찰", "en": "Cohort explorer and follow-up"},
    "an_pseudonymised_note": {
        "ko": "가명처리된 자료입니다: 연구 코드만 표시되며 이름·연락처·생년월일은 보이지 않습니다.",
        "en": "Pseudonymised data: study codes only, never names, contacts or birth dates.",
    },
    # grouping values
    "an_group_none": {"ko": "전체 (집단 구분 없음)", "en": "Everyone (no grouping)"},
    "an_group_programme": {"ko": "프로그램", "en": "Programme"},
    "an_group_completed": {"ko": "수료 여부", "en": "Completion"},
    "an_group_age_band": {"ko": "연령대", "en": "Age band"},
    "an_group_offence_group": {"ko": "범죄 유형", "en": "Offence group"},
    "an_group_sex": {"ko": "성별", "en": "Sex"},
    "an_group_cohort": {"ko": "기수", "en": "Cohort"},
    "an_all": {"ko": "전체", "en": "Everyone"},
    "an_completed_1": {"ko": "수료", "en": "Completed"},
    "an_completed_0": {"ko": "미수료", "en": "Did not complete"},
    "an_age_under_14": {"ko": "14세 미만", "en": "Under 14"},
    "an_age_14_15": {"ko": "14-15세", "en": "14-15 years"},
    "an_age_16_18": {"ko": "16-18세", "en": "16-18 years"},
    "an_age_19_over": {"ko": "19세 이상", "en": "19 and over"},
    "an_sex_female": {"ko": "여성", "en": "Female"},
    "an_sex_male": {"ko": "남성", "en": "Male"},
    "an_sex_other": {"ko": "기타", "en": "Other"},
    "an_sex_unknown": {"ko": "미상", "en": "Unknown"},
    "an_off_illegal_filming": {"ko": "불법촬영", "en": "Illegal filming"},
    "an_off_non_consensual_distribution": {"ko": "비동의 유포", "en": "Non-consensual distribution"},
    "an_off_possession_or_viewing": {"ko": "소지·시청", "en": "Possession or viewing"},
    "an_off_sextortion_or_coercion": {"ko": "성적 협박·강요", "en": "Sextortion or coercion"},
    "an_off_synthetic_sexual_imagery": {"ko": "허위영상물 (딥페이크)", "en": "Synthetic sexual imagery (deepfake)"},
    "an_off_grooming": {"ko": "온라인 그루밍", "en": "Grooming"},
    "an_off_other": {"ko": "기타", "en": "Other"},
    "an_off_multiple": {"ko": "복수 유형", "en": "Multiple types"},
    "an_off_unknown": {"ko": "미상", "en": "Unknown"},
    # event types and sources
    "an_evt_digital_sex_crime": {"ko": "디지털 성범죄", "en": "Digital sex crime"},
    "an_evt_other_sexual": {"ko": "기타 성범죄", "en": "Other sexual offence"},
    "an_evt_non_sexual_violent": {"ko": "비성적 폭력 범죄", "en": "Non-sexual violent offence"},
    "an_evt_other": {"ko": "기타 범죄", "en": "Other offence"},
    "an_src_police": {"ko": "경찰", "en": "Police"},
    "an_src_court": {"ko": "법원", "en": "Court"},
    "an_src_probation": {"ko": "보호관찰", "en": "Probation"},
    "an_src_self_report": {"ko": "본인 진술", "en": "Self-report"},
    "an_src_detection_flag": {"ko": "탐지 플래그", "en": "Detection flag"},
    "an_src_none": {"ko": "없음", "en": "None"},
    # Kaplan-Meier
    "an_km_title": {"ko": "재범까지의 시간 (Kaplan-Meier)", "en": "Time to reoffending (Kaplan-Meier)"},
    "an_km_by": {"ko": "집단 구분", "en": "Group by"},
    "an_km_y": {"ko": "재범하지 않은 비율", "en": "Proportion not reoffended"},
    "an_at_risk": {"ko": "위험 집단 수", "en": "Number at risk"},
    "an_months_axis": {"ko": "프로그램 종료 후 기간 (개월)", "en": "Time since programme end (months)"},
    "an_logrank": {
        "ko": "로그순위 검정: χ² = {stat}, 자유도 {df}, p = {p}",
        "en": "Log-rank test: χ² = {stat}, df {df}, p = {p}",
    },
    "an_logrank_none": {"ko": "집단이 하나뿐이라 로그순위 검정을 하지 않습니다.", "en": "Only one group: no log-rank test."},
    "an_median": {"ko": "재범까지의 중앙값 (일)", "en": "Median time to reoffending (days)"},
    "an_not_reached": {"ko": "도달하지 않음", "en": "Not reached"},
    "an_group": {"ko": "집단", "en": "Group"},
    "an_ci_band_note": {
        "ko": "음영은 95% 신뢰구간, 아래 표는 각 시점의 위험 집단 수(아직 추적 중인 인원)입니다.",
        "en": "Shaded bands are 95% confidence intervals; the table below gives the number still followed at each time.",
    },
    # cumulative incidence
    "an_cif_header": {"ko": "재범 유형별 누적 발생률 (Aalen-Johansen)", "en": "Cumulative incidence by type of reoffence (Aalen-Johansen)"},
    "an_cif_y": {"ko": "누적 발생률", "en": "Cumulative incidence"},
    "an_cif_explain": {
        "ko": "한 사람의 첫 재범은 한 가지 유형일 수밖에 없으므로, 다른 유형의 재범은 이 유형의 재범을 "
              "'막는' 경쟁 사건입니다. 경쟁 사건을 중도절단으로 처리하면(1 − Kaplan-Meier) 그 사람이 "
              "앞으로도 이 유형의 재범을 할 수 있는 것처럼 계산되어 발생률이 과대추정됩니다. "
              "Aalen-Johansen 추정은 경쟁 사건을 사건으로 남겨 두므로, 유형별 곡선을 더하면 "
              "전체 재범률(1 − Kaplan-Meier)과 정확히 같습니다.",
        "en": "A person's first reoffence is of one type only, so a reoffence of another type is a "
              "competing event that rules this type out as the first. Treating competing events as "
              "censored (1 − Kaplan-Meier) would count those people as still able to have this type "
              "first, and overstate its incidence. The Aalen-Johansen estimate keeps competing events "
              "as events, so the curves of all types add up exactly to the overall rate (1 − Kaplan-Meier).",
    },
    # Cox
    "an_cox_header": {"ko": "Cox 비례위험 모형", "en": "Cox proportional hazards model"},
    "an_change_header": {"ko": "매트릭스 변화와 재범", "en": "Matrix change and reoffending"},
    "an_change_intro": {
        "ko": "매트릭스의 세 영역에서 계획 단계 이후의 변화가 재범과 관련되는지 봅니다: 각 영역 점수가 단계마다 "
              "갱신되는 시간 의존 Cox 모형이며, 위험비는 신뢰할 만한 향상(RCI 기준) 한 단위당 값입니다. "
              "이전 범죄 횟수, 의뢰 시 나이, 수료 여부로 보정했습니다.",
        "en": "Does change since planning in the matrix's three domains go with reoffending? A time-varying "
              "Cox model in which each domain's score updates at each step; hazard ratios are per reliable "
              "improvement (the RCI criterion), adjusted for prior offences, age at referral and completion.",
    },
    "an_change_dropped": {"ko": "제외 (계획 점수 없음)", "en": "Left out (no planning score)"},
    "an_change_forest_title": {"ko": "신뢰할 만한 향상 1단위당 위험비 (95% CI)", "en": "Hazard ratio per reliable improvement (95% CI)"},
    "an_change_ph_p": {"ko": "비례위험 검정 p", "en": "PH test p"},
    "an_change_ph_global": {"ko": "비례위험 가정 전체 검정: 통계량 {stat}, 자유도 {df}, p {p}", "en": "Proportional hazards, global test: statistic {stat}, df {df}, p {p}"},
    "an_change_units": {
        "ko": "신뢰할 만한 향상 1단위 = 성인지 감수성 {gs}점, 성평등 의식 {ge}점, 디지털 성범죄 이해 {dsc}점 (1.96 × 차이의 표준오차).",
        "en": "One reliable improvement = {gs} points of gender sensitivity, {ge} of gender equality awareness, {dsc} of understanding of digital sex crimes (1.96 x the standard error of the difference).",
    },
    "an_cov_improvement": {"ko": "{domain} 향상 (신뢰할 만한 향상 단위)", "en": "{domain} improvement (reliable improvements)"},
    "an_cox_covariates": {"ko": "공변량", "en": "Covariates"},
    "an_cox_choose": {"ko": "공변량을 하나 이상 고르십시오.", "en": "Choose at least one covariate."},
    "an_forest_title": {"ko": "위험비와 95% 신뢰구간", "en": "Hazard ratios with 95% confidence intervals"},
    "an_hr_axis": {"ko": "위험비 (로그 척도)", "en": "Hazard ratio (log scale)"},
    "an_hr_compare": {"ko": "비교 (기준)", "en": "Compared (reference)"},
    "an_forest_note": {"ko": "위험비가 1보다 크면 재범 위험이 더 높고, 1보다 작으면 더 낮습니다. 점선은 1(차이 없음)입니다. "
                             "각 항목 아래 줄은 무엇을 무엇과 비교하는지(기준 범주)입니다.",
                       "en": "A hazard ratio above 1 means a higher risk of reoffending, below 1 a lower one; the "
                             "dashed line is 1 (no difference). The line under each name says what is compared with what "
                             "(the reference category)."},
    "an_unit_age_at_referral": {"ko": "1세 많을수록", "en": "per year older"},
    "an_unit_age_at_offence": {"ko": "1세 많을수록", "en": "per year older"},
    "an_unit_prior_offences": {"ko": "이전 범행 1건 많을수록", "en": "per prior offence"},
    "an_unit_sessions_attended": {"ko": "회기 1회 더 출석할수록", "en": "per session attended"},
    "an_unit_completed": {"ko": "수료 대 미수료, 기준: 미수료", "en": "completed vs not, reference: not completed"},
    "an_unit_offence": {"ko": "해당 대 비해당, 기준: 이 유형이 없는 사건", "en": "yes vs no, reference: cases without it"},
    "an_unit_change": {"ko": "검사 척도에서 1점 더 오를수록", "en": "per point more of change on the instrument's scale"},
    "an_unit_improvement": {"ko": "신뢰할 만한 향상 1단위마다", "en": "per reliable improvement"},
    "an_covariate": {"ko": "공변량", "en": "Covariate"},
    "an_coef": {"ko": "계수", "en": "coef"},
    "an_se": {"ko": "표준오차", "en": "se"},
    "an_hr": {"ko": "위험비", "en": "HR"},
    "an_ci_lower": {"ko": "95% CI 하한", "en": "95% CI lower"},
    "an_ci_upper": {"ko": "95% CI 상한", "en": "95% CI upper"},
    "an_z": {"ko": "z", "en": "z"},
    "an_p": {"ko": "p", "en": "p"},
    "an_cox_unbounded": {
        "ko": "{covariates}: 자료로는 위험비의 범위를 정할 수 없습니다(신뢰구간이 한없이 넓음). 작은 범주에 "
              "재범이 전혀 없거나 모두 재범일 때(준분리) 생기며, 추정치가 아닙니다. 범주를 합치거나 이 변수를 "
              "빼고 다시 맞추십시오.",
        "en": "{covariates}: the data cannot bound the hazard ratio (its interval is unbounded), as "
              "when a small category has no events or only events (quasi-separation). It is not an "
              "estimate: merge the category or leave the covariate out."},
    "an_cox_too_few": {
        "ko": "공변량 {n_covariates}개에 재범 사건이 {n_events}건뿐입니다. 안정된 추정에는 {needed}건 이상(공변량마다 "
              "{min_per_covariate:g}건)이 필요합니다. 공변량을 줄이십시오.",
        "en": "{n_events} reoffending event(s) for {n_covariates} covariate(s); a stable estimate needs at least "
              "{needed} ({min_per_covariate:g} per covariate). Choose fewer covariates."},
    "an_change_too_few": {
        "ko": "아직 추정할 수 없습니다: 공변량 {n_covariates}개에 재범 사건이 {n_events}건뿐이며, 안정된 추정에는 "
              "{needed}건 이상(공변량마다 {min_per_covariate:g}건)이 필요합니다. 추적 관찰이 쌓이면 이 표가 채워집니다.",
        "en": "Not estimable yet: {n_events} reoffending event(s) for {n_covariates} covariate(s); a stable "
              "estimate needs at least {needed} ({min_per_covariate:g} per covariate). The table fills in "
              "as follow-up accrues."},
    "an_ph_global": {"ko": "전체 (모든 공변량)", "en": "Global (all covariates)"},
    "an_ph_test": {"ko": "비례위험 가정 검정 (Schoenfeld 잔차)", "en": "Proportional hazards test (Schoenfeld residuals)"},
    "an_statistic": {"ko": "검정통계량", "en": "Statistic"},
    "an_df": {"ko": "자유도", "en": "df"},
    "an_concordance": {"ko": "일치도 (Harrell C)", "en": "Concordance (Harrell's C)"},
    "an_n_used": {"ko": "분석 인원", "en": "Participants used"},
    "an_n_events": {"ko": "재범 수", "en": "Events"},
    "an_lr_test": {"ko": "우도비 검정: χ² = {stat}, 자유도 {df}, p = {p}", "en": "Likelihood ratio test: χ² = {stat}, df {df}, p = {p}"},
    "an_ph_violated": {
        "ko": "p < 0.05인 공변량은 비례위험 가정이 의심됩니다: 층화하거나 시간에 따라 변하는 효과를 검토하십시오.",
        "en": "Covariates with p < 0.05 question the proportional hazards assumption: consider strata or a time-varying effect.",
    },
    "an_complete_cases_note": {
        "ko": "변화 점수가 없는 참여자(사전 평가 없음)는 제외됩니다: 분석 인원을 확인하십시오.",
        "en": "Participants without a change score (no planning assessment) are left out: check the number used.",
    },
    "an_cov_age_at_referral": {"ko": "의뢰 시 연령", "en": "Age at referral"},
    "an_cov_age_at_offence": {"ko": "범행 시 연령 (추정)", "en": "Age at offence (approximate)"},
    "an_cov_prior_offences": {"ko": "이전 범행 수", "en": "Prior offences"},
    "an_cov_sessions_attended": {"ko": "출석 회기 수", "en": "Sessions attended"},
    "an_cov_programme": {"ko": "프로그램", "en": "Programme"},
    "an_cov_completed": {"ko": "수료 (1 = 수료)", "en": "Completed (1 = yes)"},
    "an_dom_gender_sensitivity": {"ko": "성인지 감수성", "en": "gender sensitivity"},
    "an_dom_gender_equality": {"ko": "성평등 의식", "en": "gender equality awareness"},
    "an_dom_digital_sex_crime_understanding": {"ko": "디지털 성범죄에 대한 이해", "en": "understanding of digital sex crimes"},
    "an_dom_engagement": {"ko": "참여도", "en": "engagement"},
    "an_dom_responsibility_taking": {"ko": "책임 수용", "en": "responsibility taking"},
    "an_dom_victim_harm_understanding": {"ko": "피해에 대한 이해", "en": "understanding of harm to victims"},
    "an_cov_change": {"ko": "변화 점수: {domain}", "en": "Change: {domain}"},
    "an_cov_offence": {"ko": "범죄 유형: {kind}", "en": "Offence: {kind}"},
    # risk models
    "an_fit_header": {"ko": "모델 적합", "en": "Fit a model"},
    "an_landmark": {"ko": "예측 시점", "en": "Landmark"},
    "an_landmark_planning": {"ko": "계획 단계", "en": "Planning"},
    "an_landmark_conclusion": {"ko": "종결 단계", "en": "Conclusion"},
    "an_landmark_help": {
        "ko": "계획 단계 모델은 접수 정보와 계획 단계 점수만, 종결 단계 모델은 수료 여부와 변화까지 씁니다. "
              "상담사는 참여자가 도달한 시점의 승인된 모델만 봅니다.",
        "en": "A planning model uses the intake facts and planning scores only; a conclusion model also "
              "completion and change. Counselors see only an approved model of the landmark a participant reached.",
    },
    "an_status": {"ko": "상태", "en": "Status"},
    "an_status_draft": {"ko": "초안 (승인 전)", "en": "Draft (not approved)"},
    "an_status_approved": {"ko": "승인됨", "en": "Approved"},
    "an_status_withdrawn": {"ko": "철회됨", "en": "Withdrawn"},
    "an_approved_by": {"ko": "승인자", "en": "Approved by"},
    "an_approved_line": {"ko": "{who}이(가) {at}에 승인: {reason}", "en": "Approved by {who} on {at}: {reason}"},
    "an_withdrawn_line": {"ko": "{who}이(가) {at}에 철회: {reason}", "en": "Withdrawn by {who} on {at}: {reason}"},
    "an_approve_header": {"ko": "상담사용 승인", "en": "Approve for counselors"},
    "an_approve_blocked": {"ko": "이 모델은 승인할 수 없습니다:", "en": "This model cannot be approved:"},
    "an_approve_ack_note": {
        "ko": "위 카드를 읽고, 아래 경고를 하나씩 확인하십시오. 승인하면 상담사가 이 모델의 예측을 보게 됩니다.",
        "en": "Read the card above and acknowledge each warning below. Once approved, counselors see this model's estimates.",
    },
    "an_approve_reason": {"ko": "승인 사유 (모델에 관한 내용만, 개인 정보 없이)", "en": "Reason for approving (about the model only, no personal details)"},
    "an_approve": {"ko": "승인", "en": "Approve"},
    "an_approved": {"ko": "모델 #{id}을(를) 승인했습니다.", "en": "Model #{id} approved."},
    "an_withdraw_header": {"ko": "모델 철회", "en": "Withdraw the model"},
    "an_withdraw_reason": {"ko": "철회 사유", "en": "Reason for withdrawing"},
    "an_withdraw_confirm": {"ko": "모델 #{id}을(를) 철회합니다. 철회하면 상담사가 이 모델의 예측을 더 이상 보지 않으며, 되돌릴 수 없습니다.", "en": "Withdraw model #{id}. Once withdrawn, counselors no longer see its estimates; this cannot be undone."},
    "an_withdraw": {"ko": "철회", "en": "Withdraw"},
    "an_withdrawn": {"ko": "모델 #{id}을(를) 철회했습니다.", "en": "Model #{id} withdrawn."},
    "an_fit_model": {"ko": "모델", "en": "Model"},
    "an_model_logistic": {"ko": "로지스틱 회귀", "en": "Logistic regression"},
    "an_model_gradient_boosting": {"ko": "그래디언트 부스팅", "en": "Gradient boosting"},
    "an_horizon": {"ko": "예측 기간 (일)", "en": "Horizon (days)"},
    "an_validation_settings": {"ko": "검증 설정", "en": "Validation settings"},
    "an_n_splits": {"ko": "교차검증 분할 수", "en": "Cross-validation folds"},
    "an_n_repeats": {"ko": "반복 횟수", "en": "Repeats"},
    "an_n_bootstrap": {"ko": "부트스트랩 표본 수", "en": "Bootstrap resamples"},
    "an_fit": {"ko": "적합 및 검증", "en": "Fit and validate"},
    "an_fitting": {"ko": "모델을 적합하고 검증하는 중입니다…", "en": "Fitting and validating the model…"},
    "an_fitted": {"ko": "모델 #{id}을(를) 저장했습니다.", "en": "Model #{id} saved."},
    "an_stored_models": {"ko": "저장된 모델", "en": "Stored models"},
    "an_no_models": {"ko": "저장된 모델이 없습니다.", "en": "No models are stored yet."},
    "an_choose_model": {"ko": "모델 카드 보기", "en": "Show the card of"},
    "an_model_label": {"ko": "모델", "en": "Model"},
    "an_created": {"ko": "적합일", "en": "Fitted on"},
    "an_created_by": {"ko": "적합자", "en": "Fitted by"},
    "an_participants": {"ko": "인원", "en": "Participants"},
    "an_events": {"ko": "재범", "en": "Events"},
    "an_auc_ci": {"ko": "AUC (95% CI)", "en": "AUC (95% CI)"},
    "an_eo": {"ko": "기대/관찰 비", "en": "E/O ratio"},
    "an_warnings_n": {"ko": "경고", "en": "Warnings"},
    "an_card": {"ko": "모델 카드", "en": "Model card"},
    "an_card_warnings": {"ko": "이 모델에 대한 경고", "en": "Warnings about this model"},
    "an_more_warnings": {"ko": "나머지 경고 {n}건 보기", "en": "Show the other {n} warnings"},
    "an_data_window": {"ko": "자료 기간", "en": "Data window"},
    "an_censored": {"ko": "기간 내 중도절단", "en": "Censored"},
    "an_epv": {"ko": "예측변수당 사건 수", "en": "Events per predictor"},
    "an_epv_warning": {
        "ko": "예측변수당 사건 수가 {epv}로 권장 기준(10)보다 적습니다: 과적합되어 예측 위험이 지나치게 극단적일 수 있습니다.",
        "en": "Only {epv} events per predictor (10 advised): the model may be overfitted and its risks too extreme.",
    },
    "an_metrics": {"ko": "성능 지표 (교차검증, 95% 신뢰구간)", "en": "Performance (cross-validated, 95% CI)"},
    "an_metric": {"ko": "지표", "en": "Metric"},
    "an_estimate": {"ko": "추정값", "en": "Estimate"},
    "an_m_auc": {"ko": "AUC (판별력)", "en": "AUC (discrimination)"},
    "an_m_brier": {"ko": "Brier 점수", "en": "Brier score"},
    "an_m_eo_ratio": {"ko": "기대/관찰 비", "en": "Expected / observed"},
    "an_m_calibration_intercept": {"ko": "보정 절편", "en": "Calibration intercept"},
    "an_m_calibration_slope": {"ko": "보정 기울기", "en": "Calibration slope"},
    "an_calibration_title": {"ko": "보정 그림: 예측 위험 대 관찰 비율", "en": "Calibration: predicted against observed risk"},
    "an_cal_x": {"ko": "{h}일 안에 재범할 예측 위험", "en": "Predicted risk of reoffending within {h} days"},
    "an_cal_y": {"ko": "관찰 비율 (중도절단 가중)", "en": "Observed share (censoring-weighted)"},
    "an_cal_perfect": {"ko": "완전 보정", "en": "Perfect calibration"},
    "an_cal_hover": {"ko": "예측 %{x:.1%}<br>관찰 %{y:.1%}<br>참여자 %{customdata[0]}명, 사건 %{customdata[1]}건<extra></extra>",
                     "en": "predicted %{x:.1%}<br>observed %{y:.1%}<br>%{customdata[0]} participants, %{customdata[1]} events<extra></extra>"},
    "an_cal_observed": {"ko": "관찰값 (95% CI)", "en": "Observed (95% CI)"},
    "an_cal_missing": {"ko": "이 모델은 보정 표가 저장되기 전에 적합되었습니다.", "en": "This model was fitted before calibration tables were kept."},
    "an_fairness": {"ko": "하위집단별 성능 (공정성)", "en": "Performance by subgroup (fairness)"},
    "an_fairness_by": {"ko": "하위집단", "en": "Subgroup"},
    "an_threshold": {"ko": "기준 위험 {cut} 이상을 '고위험'으로 분류했을 때의 오류율입니다.", "en": "Error rates when a risk of {cut} or more counts as high."},
    "an_fairness_n_note": {
        "ko": "인원은 예측 기간 전에 중도절단되지 않은 참여자 수이고, 비율은 중도절단 가중(IPCW) 값입니다.",
        "en": "Participants are those not censored before the horizon; rates are censoring-weighted (IPCW).",
    },
    "an_base_rate": {"ko": "기저 재범률", "en": "Base rate"},
    "an_fpr": {"ko": "위양성률", "en": "FPR"},
    "an_fnr": {"ko": "위음성률", "en": "FNR"},
    "an_ppv": {"ko": "양성예측도", "en": "PPV"},
    "an_auc": {"ko": "AUC", "en": "AUC"},
    "an_subgroup_title": {"ko": "하위집단별 지표와 95% 신뢰구간", "en": "Subgroup metrics with 95% confidence intervals"},
    "an_value_axis": {"ko": "값 (비율)", "en": "Value (proportion)"},
    "an_censoring": {"ko": "중도절단 처리", "en": "How censoring is handled"},
    "an_explanation": {"ko": "개인별 설명 방법", "en": "How individual predictions are explained"},
    "an_card_details": {"ko": "모델 세부 정보 (특성, 설정, 코드 버전, 자료 지문)", "en": "Details (features, settings, code version, data fingerprint)"},
    "an_set_splits": {"ko": "교차검증 분할 수", "en": "Cross-validation folds"},
    "an_set_repeats": {"ko": "교차검증 반복 횟수", "en": "Cross-validation repeats"},
    "an_set_bootstrap": {"ko": "부트스트랩 횟수", "en": "Bootstrap resamples"},
    "an_set_seed": {"ko": "난수 시드", "en": "Random seed"},
    "an_set_ci": {"ko": "신뢰수준", "en": "Confidence level"},
    "an_set_ci_method": {
        "ko": "신뢰구간: 각 분할에서 학습에 쓰지 않은 자료로 잰 지표를 반복마다 평균하고, 참여자 단위로 다시 뽑은 "
              "백분위 부트스트랩 (분할 모형은 다시 적합하지 않음)",
        "en": "Intervals: percentile bootstrap over participants of the repeat-averaged out-of-fold "
              "metric (fold models not refitted)"},
    "an_set_params": {"ko": "모형 매개변수 (scikit-learn 이름)", "en": "Model parameters (scikit-learn names)"},
    "an_set_code_version": {"ko": "코드 버전", "en": "Code version"},
    "an_set_fingerprint": {"ko": "자료 지문", "en": "Data fingerprint"},
    "an_set_created": {"ko": "만든 날", "en": "Created on"},
    "an_features": {"ko": "예측변수", "en": "Features"},
    "an_fit_denied": {"ko": "모델 적합은 분석 담당자만 할 수 있습니다.", "en": "Only analysts fit models."},
    # cohort explorer
    "an_filters": {"ko": "거르기", "en": "Filters"},
    "an_f_all": {"ko": "전체", "en": "All"},
    "an_count_participants": {"ko": "참여자", "en": "Participants"},
    "an_count_events": {"ko": "재범", "en": "Reoffended"},
    "an_count_completed": {"ko": "수료", "en": "Completed"},
    "an_count_not_completed": {"ko": "미수료", "en": "Did not complete"},
    "an_frame_table": {"ko": "분석 자료 (가명처리)", "en": "Analysis frame (pseudonymised)"},
    "an_no_code_found": {"ko": "찾는 연구 코드가 없습니다.", "en": "No study code matches."},
    "an_no_rows": {"ko": "조건에 맞는 참여자가 없습니다.", "en": "No participants match these filters."},
    "an_export": {"ko": "가명처리 자료 내려받기", "en": "Download pseudonymised rows"},
    "an_export_note": {
        "ko": "내려받기는 목적과 함께 기록됩니다(누가, 왜, 어떤 조건, 몇 행). 연구 목적 외에 쓰지 마십시오.",
        "en": "Each download is recorded with its purpose (who, why, which filters, how many rows). Use it for research only.",
    },
    "an_download": {"ko": "CSV 내려받기", "en": "Download CSV"},
    "an_col_duration": {"ko": "추적 일수", "en": "Days followed"},
    "an_col_event": {"ko": "재범", "en": "Reoffended"},
    "an_col_first_event_type": {"ko": "첫 재범 유형", "en": "First reoffence"},
    "an_col_follow_up_start": {"ko": "추적 시작", "en": "Follow-up start"},
    "an_col_follow_up_end": {"ko": "추적 종료", "en": "Follow-up end"},
    "an_col_sessions_attended": {"ko": "출석 회기", "en": "Sessions attended"},
    "an_col_ended_on": {"ko": "프로그램 종료일", "en": "Programme ended"},
    "an_col_events_recorded": {"ko": "기록된 재범", "en": "Events recorded"},
    "an_followup_header": {"ko": "추적 관찰 기간 기록", "en": "Record a follow-up window"},
    "an_followup_help": {
        "ko": "추적 관찰은 프로그램 종료(또는 중도 탈락)일 이후 시작하고, 마지막 확인일에 끝납니다. "
              "같은 시작일로 다시 기록하면 종료일이 옮겨집니다.",
        "en": "Follow-up starts on or after the programme end (or drop-out) and ends at the last check. "
              "Recording again with the same start moves the end.",
    },
    "an_fu_current": {"ko": "현재 기간: {start} ~ {end}", "en": "Current window: {start} to {end}"},
    "an_fu_none": {"ko": "아직 추적 관찰 기간이 없습니다 (프로그램 종료일 {ended}).", "en": "No window yet (programme ended {ended})."},
    "an_fu_start": {"ko": "시작일", "en": "Start"},
    "an_fu_end": {"ko": "종료일 (마지막 확인일)", "en": "End (last check)"},
    "an_fu_none_ended": {"ko": "프로그램을 마친 참여자가 없습니다.", "en": "Nobody has ended the programme yet."},
    "an_event_header": {"ko": "재범 기록", "en": "Record a reoffence"},
    "an_event_date": {"ko": "재범일", "en": "Date of the reoffence"},
    "an_event_type": {"ko": "재범 유형", "en": "Type"},
    "an_event_source": {"ko": "출처", "en": "Source"},
    "an_no_windows": {"ko": "추적 관찰 기간이 기록된 참여자가 없습니다.", "en": "No follow-up windows are recorded yet."},
    "an_proposals_header": {"ko": "탐지 결과로 제안된 재범", "en": "Reoffences proposed from detection"},
    "an_proposals_help": {
        "ko": "탐지 검토자가 확정한 재유포 플래그가 참여자 사례와 연결되면 재범으로 제안됩니다. 받아들이거나, 사유를 적어 거절하십시오.",
        "en": "A re-upload flag confirmed by a detection reviewer that belongs to a participant's case is proposed as a reoffence. Accept it, or reject it with a reason.",
    },
    "an_no_proposals": {"ko": "결정할 제안이 없습니다.", "en": "No proposals to decide."},
    "an_proposal": {"ko": "제안", "en": "Proposal"},
    "an_proposed_date": {"ko": "제안일", "en": "Proposed date"},
    "an_decision": {"ko": "결정", "en": "Decision"},
    "an_accept": {"ko": "재범으로 받아들임", "en": "Accept as a reoffence"},
    "an_reject": {"ko": "거절", "en": "Reject"},
    "an_reason_reject": {"ko": "사유 (거절 시 필수)", "en": "Reason (required to reject)"},
    "an_decide": {"ko": "결정 저장", "en": "Save the decision"},
    "an_decided": {"ko": "결정된 제안", "en": "Decided proposals"},
    "an_prop_status_proposed": {"ko": "결정 대기", "en": "To decide"},
    "an_prop_status_accepted": {"ko": "받아들임", "en": "Accepted"},
    "an_prop_status_rejected": {"ko": "거절함", "en": "Rejected"},
    "an_pr_date": {"ko": "제안된 사건일", "en": "Proposed date"},
    "an_pr_case": {"ko": "탐지 사건", "en": "Detection case"},
    "an_pr_flag": {"ko": "탐지 건", "en": "Flag"},
    "an_pr_window_end": {"ko": "추적 관찰 종료일", "en": "Follow-up ends"},
    "an_pr_no_window": {"ko": "추적 관찰 기간 없음", "en": "no follow-up window"},
    "an_pr_inside": {"ko": "기간 안?", "en": "Inside the window?"},
    "an_pr_in_window": {"ko": "기간 안", "en": "inside"},
    "an_pr_after_window": {"ko": "기간 종료 뒤 (수락하려면 종료일 연장)", "en": "after the end (extend to accept)"},
    "an_pr_extend": {"ko": "추적 관찰 종료일을 연장하고 수락", "en": "Move the follow-up's end and accept"},
    "an_pr_extend_to": {"ko": "새 종료일 (확인한 날)", "en": "New end (the check's date)"},
    "an_pr_reason": {"ko": "사유 (기각하거나 종료일을 연장할 때 필수)", "en": "Reason (needed to reject or to move the end)"},
    "an_pr_accepted": {"ko": "{code}의 {date} 재범 사건을 기록했습니다.", "en": "Recorded {code}'s event of {date}."},
    "an_pr_rejected": {"ko": "{code}의 {date} 제안을 기각했습니다.", "en": "Rejected the proposal for {code} of {date}."},
}

# Coded values of the analysis frame, by column: the label prefix of each column's values.
_VALUE_PREFIX = {
    "completed": "an_completed_",
    "age_band": "an_age_",
    "sex": "an_sex_",
    "offence_group": "an_off_",
    "first_event_type": "an_evt_",
    "first_event_source": "an_src_",
    "event_type": "an_evt_",
    "source": "an_src_",
    "status": "status_",
}


def value_label(column: str, value: object, lang: str) -> str:
    """The label of a coded value of a frame column (a sex, an age band), else the value itself."""
    from dashboard.i18n import TEXT as ALL

    key = _VALUE_PREFIX.get(column, "\0") + str(value)
    entry = ALL.get(key)
    return (entry.get(lang) or entry["ko"]) if entry else str(value)


def covariate_unit(name: str, lang: str) -> str:
    """What a covariate's hazard ratio compares: a unit of a number, or a category against its
    reference ("yes vs no, reference: ..."); "" when not known."""
    if f"an_unit_{name}" in TEXT:
        return TEXT[f"an_unit_{name}"][lang]
    for prefix in ("offence", "change", "improvement"):
        if name.startswith(prefix + "_"):
            return TEXT[f"an_unit_{prefix}"][lang]
    return ""


def compared_label(name: str, lang: str) -> str:
    """A covariate's label with what its ratio compares below it, for a forest plot's rows."""
    unit = covariate_unit(name, lang)
    return f"{covariate_label(name, lang)}<br>{unit}" if unit else covariate_label(name, lang)


def covariate_label(name: str, lang: str) -> str:
    """The label of an analysis-frame covariate (a number column) in the user's language."""
    if f"an_cov_{name}" in TEXT:
        return TEXT[f"an_cov_{name}"][lang]
    for prefix, key, field, kind in (("improvement_", "an_cov_improvement", "domain", "an_dom_"),
                                     ("change_to_last_", "an_cov_change", "domain", "an_dom_"),
                                     ("change_", "an_cov_change", "domain", "an_dom_"),
                                     ("offence_", "an_cov_offence", "kind", "an_off_")):
        if name.startswith(prefix) and kind + name[len(prefix):] in TEXT:
            inner = TEXT[kind + name[len(prefix):]][lang]
            return TEXT[key][lang].format(**{field: inner})
    return name
