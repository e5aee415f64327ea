"""Risk models at a horizon: shared contract, IPCW, coefficients, calibration, validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import statsmodels.api as sm
from lifelines import KaplanMeierFitter
from scipy.special import expit, logit
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score

from errors import ValidationError
from models.labels import censoring_survival, event_rate, horizon_labels
from models.risk import (
    RISK_MODELS,
    LogisticRisk,
    calibration_intercept_slope,
    get_model,
    recalibrate,
    validate,
    weighted_auc,
)
from tests.models._risk_data import FEATURES, HORIZON, TRUE_COEF, make_cohort

N = 437  # odd on purpose: no fitted attribute should have this many rows


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(N, seed=11)


@pytest.fixture(scope="module", params=sorted(RISK_MODELS))
def fitted(request, cohort):
    return get_model(request.param, random_state=3).fit(cohort, FEATURES, HORIZON)


# ---------------------------------------------------------------- the contract, every model


def _row_holders(obj, sizes, path="model", seen=None):
    """Paths of arrays or frames with one row per participant, anywhere inside a fitted model."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, pd.DataFrame | pd.Series | np.ndarray):
        return [path] if obj.ndim >= 1 and obj.shape[0] in sizes else []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list | tuple):
        items = enumerate(obj)
    elif isinstance(obj, BaseEstimator):
        items = vars(obj).items()
    else:
        return []
    found = []
    for key, value in items:
        found += _row_holders(value, sizes, f"{path}.{key}", seen)
    return found


def test_fit_returns_the_model_itself(cohort, fitted):
    model = get_model(fitted.name, random_state=3)
    assert model.fit(cohort, FEATURES, HORIZON) is model


def test_predicted_risk_is_a_probability_per_row(cohort, fitted):
    risk = fitted.predict_risk(cohort)
    assert risk.index.equals(cohort.index)
    assert ((risk >= 0) & (risk <= 1)).all()
    np.testing.assert_allclose(logit(risk), fitted.predict_log_odds(cohort), rtol=1e-9)


def test_refit_with_same_random_state_gives_same_predictions(cohort, fitted):
    again = get_model(fitted.name, random_state=3).fit(cohort, FEATURES, HORIZON)
    np.testing.assert_array_equal(again.predict_risk(cohort), fitted.predict_risk(cohort))


def test_explanation_sums_to_predicted_log_odds(cohort, fitted):
    head = cohort.head(40)
    contributions = fitted.explain(head)
    assert list(contributions.columns) == [*FEATURES, "intercept"]
    np.testing.assert_allclose(
        contributions.sum(axis=1), fitted.predict_log_odds(head), rtol=0, atol=1e-9
    )


def test_fitted_model_keeps_no_participant_rows(fitted):
    sizes = {N, fitted.n_event_free_ + fitted.n_events_}
    assert _row_holders(fitted, sizes) == []


def test_summary_intervals_are_ordered(fitted):
    summary = fitted.summary
    if fitted.name == "logistic":
        assert list(summary.columns) == ["coef", "se", "ci_lower", "ci_upper", "odds_ratio",
                                         "or_ci_lower", "or_ci_upper", "z", "p", "sd"]
        assert (summary["ci_lower"] <= summary["coef"]).all()
        assert (summary["coef"] <= summary["ci_upper"]).all()
        assert (summary["or_ci_lower"] <= summary["odds_ratio"]).all()
        assert (summary["odds_ratio"] <= summary["or_ci_upper"]).all()
    else:  # a permutation range is not a confidence interval and is not called one
        assert list(summary.columns) == ["importance", "importance_low", "importance_high"]
        assert (summary["importance_low"] <= summary["importance_high"]).all()


@pytest.mark.parametrize("name", sorted(RISK_MODELS))
def test_predicting_before_fit_says_to_fit(cohort, name):
    with pytest.raises(ValidationError, match="not fitted yet"):
        get_model(name).predict_risk(cohort)


def test_unseen_programme_is_refused_by_name(cohort, fitted):
    other = cohort.head(3).assign(programme="Z")
    with pytest.raises(ValidationError, match="programme has level 'Z'"):
        fitted.predict_risk(other)


def test_registry_is_keyed_by_each_model_name_constant():
    assert set(RISK_MODELS) == {"logistic", "gradient_boosting"}
    assert all(cls.name == key for key, cls in RISK_MODELS.items())
    with pytest.raises(ValidationError, match="choose one of gradient_boosting, logistic"):
        get_model("forest")


# ---------------------------------------------------------------- logistic specifics


def test_logistic_explanation_is_coefficient_times_standardised_value(cohort):
    model = get_model("logistic", C=2.0).fit(cohort, FEATURES, HORIZON)
    labels = horizon_labels(cohort["duration"], cohort["event"], HORIZON)
    known = cohort[labels["weight"] > 0]
    head = cohort.head(5)
    explained = model.explain(head)
    for feature in ["age_at_offence", "prior_offences"]:
        # StandardScaler uses the training rows (status known) and the population SD.
        z = (head[feature] - known[feature].mean()) / known[feature].std(ddof=0)
        np.testing.assert_allclose(explained[feature], model.summary.loc[feature, "coef"] * z)
    is_b = (head["programme"] == "B").astype(float)
    is_c = (head["programme"] == "C").astype(float)
    expected = (
        model.summary.loc["programme=B", "coef"] * is_b
        + model.summary.loc["programme=C", "coef"] * is_c
    )
    np.testing.assert_allclose(explained["programme"], expected)


@pytest.fixture(scope="module")
def uncensored():
    # Everyone followed past the horizon: plain logistic data, weights all 1.
    return make_cohort(5000, seed=5, censor_low=2000, censor_high=2001)


def test_weakly_regularised_logistic_recovers_true_coefficients(uncensored):
    features = ["age_at_offence", "prior_offences", "sessions_attended"]
    model = get_model("logistic", C=1e6).fit(uncensored, features, HORIZON)
    summary = model.summary
    for feature, per_unit in TRUE_COEF.items():
        truth = per_unit * summary.loc[feature, "sd"]  # coefficients are per SD
        assert summary.loc[feature, "ci_lower"] <= truth <= summary.loc[feature, "ci_upper"]
        assert (summary.loc[feature, "or_ci_lower"] <= np.exp(truth)
                <= summary.loc[feature, "or_ci_upper"])
        assert summary.loc[feature, "coef"] == pytest.approx(truth, abs=0.12)


def test_logistic_matches_statsmodels_glm_with_robust_errors(uncensored):
    features = ["age_at_offence", "prior_offences", "sessions_attended"]
    model = get_model("logistic", C=1e8).fit(uncensored, features, HORIZON)
    x = uncensored[features]
    design = sm.add_constant((x - x.mean()) / x.std(ddof=0))
    labels = horizon_labels(uncensored["duration"], uncensored["event"], HORIZON)
    assert (labels["weight"] == 1).all()  # nobody censored before the horizon
    reference = sm.GLM(labels["label"], design, family=sm.families.Binomial()).fit(cov_type="HC0")
    np.testing.assert_allclose(model.summary["coef"], reference.params, atol=1e-4)
    np.testing.assert_allclose(model.summary["se"], reference.bse, rtol=1e-3)
    # ci_lower/ci_upper are on coef's (log-odds) scale, as statsmodels' conf_int(); the odds
    # ratio and its interval have their own columns.
    ci = reference.conf_int()
    np.testing.assert_allclose(model.summary["ci_lower"], ci[0], atol=2e-3)
    np.testing.assert_allclose(model.summary["ci_upper"], ci[1], atol=2e-3)
    np.testing.assert_allclose(model.summary["odds_ratio"], np.exp(reference.params), rtol=1e-3)
    np.testing.assert_allclose(model.summary["or_ci_lower"], np.exp(ci[0]), rtol=2e-3)
    np.testing.assert_allclose(model.summary["or_ci_upper"], np.exp(ci[1]), rtol=2e-3)


# ---------------------------------------------------------------- censoring


@pytest.fixture(scope="module")
def heavily_censored():
    # Most follow-up ends before the horizon: censoring uniform on 100..900 days.
    frame = make_cohort(4000, seed=21, censor_low=100, censor_high=900)
    return frame


def test_horizon_labels_by_hand():
    # Censoring KM: 4/5 after the censoring at day 200, so G(300-) = G(730-) = 0.8.
    labels = horizon_labels(
        pd.Series([100, 200, 730, 800, 300, 900], name="duration"),
        pd.Series([1, 0, 0, 1, 1, 0], name="event"),
        730,
    )
    assert list(labels["status"]) == [
        "event",
        "censored",
        "event_free",
        "event_free",
        "event",
        "event_free",
    ]
    assert list(labels["label"]) == [1, 0, 0, 0, 1, 0]
    np.testing.assert_allclose(labels["weight"], [1.0, 0.0, 1.25, 1.25, 1.25, 1.25])
    # 1 - KM(730) = 1 - (5/6)(3/4) = 0.375 = (1 + 1.25) / 6
    assert event_rate([100, 200, 730, 800, 300, 900], [1, 0, 0, 1, 1, 0], 730) == 0.375


# Whole days, so reoffences and censorings share days, as they do in the store.
def _tied_follow_up(seed: int = 11, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(500, n))
    c = np.ceil(rng.uniform(20, 900, n))
    return np.minimum(t, c), (t <= c).astype(int)


def _sksurv_g(d, e, times):
    from sksurv.nonparametric import CensoringDistributionEstimator
    from sksurv.util import Surv

    fitted = CensoringDistributionEstimator().fit(Surv.from_arrays(e.astype(bool), d))
    return fitted.predict_proba(np.asarray(times, dtype=float))


# Tolerance: both are the same product of the same counts, so they agree to rounding (1e-12).
def test_censoring_survival_equals_sksurv_with_tied_days():
    d, e = _tied_follow_up()
    shared = np.intersect1d(d[e == 1], d[e == 0])
    assert len(shared) > 20  # the data do put reoffences and censorings on the same days
    times = np.r_[np.unique(d), shared + 0.5, 0.5]
    times = times[times <= d.max()]
    np.testing.assert_allclose(censoring_survival(d, e, times), _sksurv_g(d, e, times),
                               rtol=1e-12, atol=0)
    # The left limit G(t-) is the step before t: sksurv's value half a day earlier.
    np.testing.assert_allclose(censoring_survival(d, e, shared, left_limit=True),
                               _sksurv_g(d, e, shared - 0.5), rtol=1e-12, atol=0)


def test_censoring_survival_equals_sksurv_on_the_heavily_censored_cohort(heavily_censored):
    d = heavily_censored["duration"].to_numpy(dtype=float)
    e = heavily_censored["event"].to_numpy()
    times = np.array([50.0, 300.0, 730.0, 850.0])
    np.testing.assert_allclose(censoring_survival(d, e, times), _sksurv_g(d, e, times),
                               rtol=1e-12, atol=0)


def test_censoring_survival_takes_reoffences_first_on_a_shared_day_by_hand():
    # days 1 2 2 2 3 / reoffence 1 1 0 0 0. At day 2, 4 are followed, 1 reoffends first, so 2 of
    # the 3 left are censored: G(2) = 1 - 2/3 = 1/3 (lifelines' reading, 1 - 2/4, gives 1/2).
    g = censoring_survival([1, 2, 2, 2, 3], [1, 1, 0, 0, 0], [1, 2, 2.5, 3])
    np.testing.assert_allclose(g, [1, 1 / 3, 1 / 3, 0])


def test_ipcw_event_rate_equals_kaplan_meier_exactly_on_tied_days():
    # With reoffences first in G, S(t) G(t) = #(T > t)/n, so the IPCW rate is 1 - KM to rounding
    d, e = _tied_follow_up(seed=12)
    km = KaplanMeierFitter().fit(d, e)
    for horizon in (100.0, 365.0, 600.0):
        labels = horizon_labels(d, e, horizon)
        assert labels["weight"].sum() == pytest.approx(len(d), rel=1e-12)
        assert event_rate(d, e, horizon) == pytest.approx(
            1 - km.survival_function_at_times(horizon).iloc[0], abs=1e-12)


def test_ipcw_weights_sum_to_n_and_rate_equals_kaplan_meier(heavily_censored):
    d, e = heavily_censored["duration"], heavily_censored["event"]
    labels = horizon_labels(d, e, HORIZON)
    assert labels["weight"].sum() == pytest.approx(len(d), rel=1e-10)
    assert (labels.loc[labels["status"] == "censored", "weight"] == 0).all()
    km = KaplanMeierFitter().fit(d, e)  # Satten & Datta (2001): IPCW = 1 - KM
    assert event_rate(d, e, HORIZON) == pytest.approx(
        1 - km.survival_function_at_times(HORIZON).iloc[0], abs=1e-10
    )


def test_ipcw_is_less_biased_than_excluding_the_censored(heavily_censored):
    d, e = heavily_censored["duration"], heavily_censored["event"]
    truth = heavily_censored["true_risk"].mean()
    ipcw = event_rate(d, e, HORIZON, censoring="ipcw")
    naive = event_rate(d, e, HORIZON, censoring="exclude")
    assert abs(ipcw - truth) < 0.02
    assert naive - truth > 0.08  # keeps early reoffences, drops event-free years
    features = ["age_at_offence", "prior_offences"]
    weighted = get_model("logistic", censoring="ipcw").fit(heavily_censored, features, HORIZON)
    excluded = get_model("logistic", censoring="exclude").fit(heavily_censored, features, HORIZON)
    mean_weighted = weighted.predict_risk(heavily_censored).mean()
    mean_excluded = excluded.predict_risk(heavily_censored).mean()
    assert abs(mean_weighted - truth) < 0.02
    assert abs(mean_excluded - truth) > 4 * abs(mean_weighted - truth)


# ---------------------------------------------------------------- bad frames


def test_negative_duration_is_refused_with_its_position(cohort):
    bad = cohort.copy()
    bad.loc[7, "duration"] = -3.0
    with pytest.raises(ValidationError, match=r"duration must be finite days >= 0.*positions 7"):
        get_model("logistic").fit(bad, FEATURES)


def test_event_other_than_0_or_1_is_refused(cohort):
    bad = cohort.copy()
    bad.loc[2, "event"] = 2
    with pytest.raises(ValidationError, match=r"event must be 0 \(no reoffence\) or 1"):
        get_model("logistic").fit(bad, FEATURES)


def test_too_few_events_says_how_many_and_how_many_are_needed(cohort):
    few = cohort.copy()
    events = few.index[(few["event"] == 1) & (few["duration"] <= HORIZON)]
    few.loc[events[7:], "event"] = 0
    with pytest.raises(ValidationError, match=r"only 7 events .* at least 10 are needed"):
        get_model("gradient_boosting").fit(few, FEATURES)


def test_outcome_column_as_feature_is_refused(cohort):
    with pytest.raises(ValidationError, match="describes the outcome"):
        get_model("logistic").fit(cohort, [*FEATURES, "duration"])


def test_missing_feature_values_are_refused_by_name(cohort):
    bad = cohort.copy()
    bad.loc[[1, 4], "prior_offences"] = np.nan
    with pytest.raises(ValidationError, match="prior_offences is missing for 2 participants"):
        get_model("logistic").fit(bad, FEATURES)


# ---------------------------------------------------------------- calibration and AUC


def test_perfectly_calibrated_predictor_has_slope_one_and_intercept_zero():
    rng = np.random.default_rng(8)
    risk = expit(rng.normal(-1.5, 1.0, 20000))
    y = (rng.random(20000) < risk).astype(float)
    intercept, slope = calibration_intercept_slope(y, risk)
    assert intercept == pytest.approx(0, abs=0.04)
    assert slope == pytest.approx(1, abs=0.05)
    reference = sm.GLM(y, sm.add_constant(logit(risk)), family=sm.families.Binomial()).fit()
    assert slope == pytest.approx(reference.params[1], rel=1e-7)
    in_large = sm.GLM(y, np.ones(len(y)), family=sm.families.Binomial(), offset=logit(risk)).fit()
    assert intercept == pytest.approx(in_large.params[0], abs=1e-7)
    # Risks twice as extreme on the log-odds scale: slope halves.
    _, too_extreme = calibration_intercept_slope(y, expit(2 * logit(risk)))
    assert too_extreme == pytest.approx(0.5, abs=0.03)


def test_weighted_auc_matches_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    score = np.round(rng.random(300), 1)  # many ties
    w = rng.uniform(0, 3, 300)
    assert weighted_auc(y, score, w) == pytest.approx(roc_auc_score(y, score, sample_weight=w))
    assert weighted_auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert np.isnan(weighted_auc(np.zeros(5), score[:5]))


# ---------------------------------------------------------------- recalibration


def test_recalibrating_on_the_training_cohort_changes_nothing(uncensored):
    features = ["age_at_offence", "prior_offences"]
    model = get_model("logistic", C=1e8).fit(uncensored, features, HORIZON)
    recalibrated = recalibrate(model, uncensored)
    assert recalibrated.intercept_ == pytest.approx(0, abs=1e-4)
    assert recalibrated.slope_ == pytest.approx(1, abs=1e-4)


def test_recalibration_in_the_large_matches_the_local_event_rate(cohort):
    model = get_model("logistic").fit(cohort, FEATURES, HORIZON)
    local = make_cohort(600, seed=12, intercept_shift=0.8)  # a higher base rate
    labels = horizon_labels(local["duration"], local["event"], HORIZON)
    known = labels["weight"] > 0
    recalibrated = recalibrate(model, local, method="in_the_large")
    risk = recalibrated.predict_risk(local)
    assert recalibrated.slope_ == 1.0
    assert np.average(risk[known], weights=labels["weight"][known]) == pytest.approx(
        event_rate(local["duration"], local["event"], HORIZON), abs=1e-8
    )
    head = local.head(5)
    np.testing.assert_allclose(
        recalibrated.explain(head).sum(axis=1), recalibrated.predict_log_odds(head), atol=1e-9
    )


# ---------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def validation(cohort):
    return validate(
        "logistic",
        cohort,
        FEATURES,
        HORIZON,
        n_splits=5,
        n_repeats=2,
        random_state=0,
        n_bootstrap=60,
        subgroups=["programme"],
    )


def test_every_validation_metric_comes_with_an_interval(validation):
    summary = validation.summary
    assert list(summary.index) == [
        "auc",
        "brier",
        "eo_ratio",
        "calibration_intercept",
        "calibration_slope",
    ]
    assert summary.notna().all().all()
    assert (summary["ci_lower"] <= summary["estimate"]).all()
    assert (summary["estimate"] <= summary["ci_upper"]).all()
    assert len(validation.per_repeat) == 2
    np.testing.assert_allclose(summary["estimate"], validation.per_repeat.mean())


def test_validation_figures_are_those_of_the_true_model_within_reason(validation, cohort):
    # The data follow a logistic model, so cross-validated AUC sits near the true risk's AUC.
    labels = horizon_labels(cohort["duration"], cohort["event"], HORIZON)
    known = labels["weight"] > 0
    true_auc = roc_auc_score(
        labels["label"][known], cohort["true_risk"][known], sample_weight=labels["weight"][known]
    )
    assert validation.summary.loc["auc", "estimate"] == pytest.approx(true_auc, abs=0.05)
    assert validation.summary.loc["eo_ratio", "estimate"] == pytest.approx(1, abs=0.15)


def test_calibration_table_and_plot(validation):
    table = validation.calibration.table
    assert table["n"].sum() == N
    assert table["events"].sum() == validation.events
    assert (table["ci_lower"] <= table["observed"]).all()
    assert (table["observed"] <= table["ci_upper"]).all()
    figure = validation.plot()
    assert isinstance(figure, go.Figure)
    assert len(figure.data) == 2


def test_subgroup_table_is_given_for_each_named_column(validation, cohort):
    table = validation.subgroups["programme"]
    assert list(table.index) == ["A", "B", "C"]
    labels = horizon_labels(cohort["duration"], cohort["event"], HORIZON)
    # Only participants whose status at the horizon is known enter the error rates.
    assert table["n"].sum() == int((labels["weight"] > 0).sum())
    assert table["events"].sum() == validation.events


def test_few_events_give_fewer_bins_and_plain_warnings():
    frame = make_cohort(300, seed=2, intercept_shift=-1.0)
    frame["noise_1"] = np.random.default_rng(0).normal(size=300)
    frame["noise_2"] = np.random.default_rng(1).normal(size=300)
    frame["group"] = np.where(np.arange(300) < 40, "small", "large")
    features = [*FEATURES, "noise_1", "noise_2"]
    result = validate(
        "logistic",
        frame,
        features,
        HORIZON,
        n_repeats=1,
        random_state=0,
        n_bootstrap=40,
        subgroups=["group"],
    )
    assert result.epv == pytest.approx(result.events / 8)
    assert result.epv < 10
    assert len(result.calibration.table) == max(2, result.events // 10) < 10
    assert any("events per predictor" in str(w) and "at least 10" in str(w) for w in result.warnings)
    assert any("group = 'small'" in str(w) and "under 10" in str(w) for w in result.warnings)


def test_validation_refuses_folds_too_small_to_fit():
    frame = make_cohort(200, seed=3, intercept_shift=-1.0)  # 12 events: enough to fit once
    get_model("logistic").fit(frame, FEATURES, HORIZON)
    with pytest.raises(ValidationError, match=r"only 12 events .* training set has about 9"):
        validate("logistic", frame, FEATURES, HORIZON, n_repeats=1, random_state=0)


def test_gradient_boosting_validates_through_the_same_function(cohort):
    result = validate(
        "gradient_boosting",
        cohort,
        ["age_at_offence", "prior_offences", "programme"],
        HORIZON,
        n_splits=3,
        n_repeats=1,
        random_state=0,
        n_bootstrap=30,
    )
    assert result.model_name == "gradient_boosting"
    assert (result.summary["ci_lower"] <= result.summary["ci_upper"]).all()
    assert result.settings["model_params"]["random_state"] == 0


def test_a_logistic_model_explains_from_its_stored_parameters_as_when_fitted(cohort):
    frame = cohort.assign(group=np.where(np.arange(len(cohort)) % 3 == 0, "a", "b"))
    features = [*FEATURES, "group"]
    model = get_model("logistic", random_state=3).fit(frame, features, HORIZON)
    # Through JSON, as the store keeps them: no rows, and the same explanation to the last bit.
    stored = json.loads(json.dumps(model.stored_parameters()))
    assert set(stored) == {"numeric", "categorical", "categories", "mean", "scale", "coef",
                           "intercept"}
    explained = LogisticRisk.explain_stored(stored, features, frame)
    pd.testing.assert_frame_equal(explained, model.explain(frame), check_exact=True)
    np.testing.assert_allclose(explained.sum(axis=1), model.predict_log_odds(frame), atol=1e-12)
    with pytest.raises(ValidationError, match="feature group is 'c', a level the model never saw"):
        LogisticRisk.explain_stored(stored, features, frame.assign(group="c"))
