"""Recidivism risk at a horizon: models behind one interface, validation, recalibration."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats
from scipy.special import expit
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from errors import Message, ValidationError
from models.fairness import group_metrics, small_group_warnings, wilson_interval
from models.labels import (
    CENSORING_TEXT,
    DEFAULT_HORIZON,
    STATUS_CENSORED,
    STATUS_EVENT,
    STATUS_EVENT_FREE,
    horizon_labels,
)
from models.validation import positions

# Fewer events than this and neither a model nor its validation says anything a counselor can use.
MIN_EVENTS = 10
# Peduzzi et al. (1996): under ~10 events per predictor, logistic coefficients are unstable.
MIN_EPV = 10

METRICS = ("auc", "brier", "eo_ratio", "calibration_intercept", "calibration_slope")


def _one_thread() -> threadpool_limits:
    """OpenMP on the small frames used here only contends with other work (HistGradientBoosting
    went from 0.1 s to 7 s on a busy 2-core machine), so fit and predict run on one thread."""
    return threadpool_limits(limits=1, user_api="openmp")


# ---------------------------------------------------------------- frames and features


def _check_frame(
    frame: pd.DataFrame, features: Sequence[str], duration_col: str, event_col: str
) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("models.frame_pandas_dataframe",
                              "frame must be a pandas DataFrame, got {type_name}",
                              type_name=type(frame).__name__)
    if isinstance(features, str) or not isinstance(features, Iterable):
        raise ValidationError("models.features_list_column_names",
                              "features must be a list of column names, got {features!r}",
                              features=features)
    features = list(features)
    if not features:
        raise ValidationError("models.features_empty_name_least",
                              "features is empty: name at least one baseline column")
    if len(set(features)) != len(features):
        raise ValidationError("models.features_lists_column_twice",
                              "features lists a column twice: {features}",
                              features=features)
    missing = [c for c in [duration_col, event_col, *features] if c not in frame.columns]
    if missing:
        raise ValidationError(
            "models.frame_no_column",
            "the frame has no column {missing}; it has {frame_columns}",
            missing=', '.join(map(repr, missing)),
            frame_columns=', '.join(map(str, frame.columns))
        )
    leaking = [c for c in features if c in (duration_col, event_col)]
    if leaking:
        raise ValidationError(
            "models.describes_outcome_predictor_remove",
            "{leaking} describes the outcome and cannot be a predictor; remove it from features",
            leaking=', '.join(leaking)
        )
    return features


def _check_feature_values(frame: pd.DataFrame, features: Sequence[str]) -> None:
    for column in features:
        missing = frame[column].isna()
        if missing.any():
            raise ValidationError(
                "models.feature_missing_participants_row",
                "feature {column} is missing for {sum} participants (row positions "
                "{positions}); impute or drop them before modelling, and say which in the "
                "analysis notes",
                column=column, sum=int(missing.sum()), positions=positions(missing.to_numpy())
            )


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series)


def _design(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    """The model's input: numbers as floats, categories as strings, nothing else."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = frame[column].astype(float)
    for column in categorical:
        out[column] = frame[column].astype(str)
    return out


def count_predictors(frame: pd.DataFrame, features: Sequence[str]) -> int:
    """Model degrees of freedom: 1 per numeric feature, levels - 1 per categorical one."""
    total = 0
    for column in features:
        if _is_numeric(frame[column]):
            total += 1
        else:
            total += max(frame[column].astype(str).nunique() - 1, 0)
    return total


def _epv_warning(events: int, predictors: int) -> list[Message]:
    if predictors == 0:
        return []
    epv = events / predictors
    if epv >= MIN_EPV:
        return []
    return [Message(
        "models.few_events_per_predictor",
        "Only {epv:.1f} events per predictor ({events} events for {predictors} predictors); "
        "at least {min_epv} are advised. The model may be overfitted: expect predicted risks "
        "that are too extreme (a calibration slope below 1). Use fewer predictors or stronger "
        "regularisation, and read the validation before the predictions.",
        epv=epv, events=events, predictors=predictors, min_epv=MIN_EPV)]


def _too_few(count: int, what: str, horizon: float, n: int, where: str = "") -> ValidationError:
    return ValidationError(
        "models.within_days_among_participants",
        "only {count} {what} within {horizon:g} days among {n} participants{where}; at least "
        "{min_events} are needed to fit a risk model. Pool more cohorts, use a longer horizon, "
        "or report the Kaplan-Meier estimate of the event rate instead.",
        count=count, what=what, horizon=horizon, n=n, where=where, min_events=MIN_EVENTS
    )


# ---------------------------------------------------------------- the interface


class RiskModel(BaseEstimator, ABC):
    """Risk of reoffending within `horizon` days; subclasses name themselves and build a pipeline.

    fit(frame, features, horizon) validates, labels with `horizon_labels`, fits on the rows whose
    status is known with their censoring weights, and keeps only what was learned (no rows).
    """

    name: ClassVar[str]
    explanation_method: ClassVar[Message]

    @abstractmethod
    def _make_pipeline(self, numeric: list[str], categorical: list[str]) -> Pipeline: ...

    def _remember(self, x: pd.DataFrame, w: np.ndarray) -> None:
        """Aggregates of the training rows that prediction or explanation need."""

    def _after_fit(self, x: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> None:
        """The `summary` table, computed from the training rows, kept as aggregates only."""

    def fit(
        self,
        frame: pd.DataFrame,
        features: Sequence[str],
        horizon: float = DEFAULT_HORIZON,
        *,
        duration_col: str = "duration",
        event_col: str = "event",
        categories: Mapping[str, Sequence[str]] | None = None,
        summarise: bool = True,
    ) -> RiskModel:
        """Fit on `frame`. `categories` gives each categorical feature's levels when more are
        known than the training rows show (cross-validation passes the whole cohort's);
        `summarise=False` skips the `summary` table, which cross-validation folds never read."""
        features = _check_frame(frame, features, duration_col, event_col)
        labels = horizon_labels(
            frame[duration_col], frame[event_col], horizon, censoring=self.censoring
        )
        _check_feature_values(frame, features)
        n = len(frame)
        events = int((labels["status"] == STATUS_EVENT).sum())
        free = int((labels["status"] == STATUS_EVENT_FREE).sum())
        if events < MIN_EVENTS:
            raise _too_few(events, f"events ({event_col} = 1)", horizon, n)
        if free < MIN_EVENTS:
            raise _too_few(free, "participants followed event free", horizon, n)
        numeric = [c for c in features if _is_numeric(frame[c])]
        categorical = [c for c in features if c not in numeric]
        levels = {}
        for column in categorical:
            seen = set(frame[column].astype(str))
            given = [str(v) for v in (categories or {}).get(column, [])]
            levels[column] = sorted(seen | set(given))
        self.categories_ = levels
        self.numeric_features_ = numeric
        self.categorical_features_ = categorical
        x = _design(frame, numeric, categorical)
        used = labels["weight"].to_numpy() > 0
        y = labels["label"].to_numpy()[used]
        w = labels["weight"].to_numpy()[used]
        pipeline = self._make_pipeline(numeric, categorical)
        with _one_thread():
            pipeline.fit(x.loc[used], y, clf__sample_weight=w)
            self.pipeline_ = pipeline
        self.features_ = features
        self.horizon_ = float(horizon)
        self.duration_col_ = duration_col
        self.event_col_ = event_col
        self.n_ = n
        self.n_events_ = events
        self.n_event_free_ = free
        self.n_censored_ = n - events - free
        self.event_rate_ = float(np.average(y, weights=w))
        self.n_predictors_ = sum(
            1 if c in numeric else max(len(levels[c]) - 1, 0) for c in features
        )
        self.epv_ = events / self.n_predictors_ if self.n_predictors_ else float("inf")
        self.censoring_text_ = CENSORING_TEXT[self.censoring]
        self.warnings_ = _epv_warning(events, self.n_predictors_)
        self._remember(x.loc[used], w)
        if summarise:
            with _one_thread():
                self._after_fit(x.loc[used], y, w)
        return self

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "pipeline_")
        except NotFittedError as exc:
            raise ValidationError(
                "models.risk_model_not_fitted",
                "the {name} risk model is not fitted yet; call fit(frame, features) first",
                name=self.name
            ) from exc

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        if not isinstance(frame, pd.DataFrame):
            raise ValidationError("models.frame_pandas_dataframe",
                                  "frame must be a pandas DataFrame, got {type_name}",
                                  type_name=type(frame).__name__)
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise ValidationError(
                "models.frame_no_column_model",
                "the frame has no column {missing}, which the model was fitted with",
                missing=', '.join(map(repr, missing))
            )
        _check_feature_values(frame, self.features_)
        for column in self.numeric_features_:
            if not _is_numeric(frame[column]):
                raise ValidationError(
                    "models.feature_numeric_when_model",
                    "feature {column} was numeric when the model was fitted, got {frame_dtype}",
                    column=column, frame_dtype=frame[column].dtype
                )
        x = _design(frame, self.numeric_features_, self.categorical_features_)
        for column, levels in self.categories_.items():
            unknown = sorted(set(x[column]) - set(levels))
            if unknown:
                raise ValidationError(
                    "models.feature_level_model_never",
                    "feature {column} has level {unknown} that the model never saw (it knows "
                    "{levels}); refit with it",
                    column=column, unknown=', '.join(map(repr, unknown)),
                    levels=', '.join(map(repr, levels))
                )
        return x

    def predict_log_odds(self, frame: pd.DataFrame) -> pd.Series:
        """Log-odds of reoffending by the horizon, one per row of `frame`."""
        x = self._prepare(frame)
        with _one_thread():
            log_odds = self.pipeline_.decision_function(x).astype(float)
        return pd.Series(log_odds, index=frame.index, name="log_odds")

    def predict_risk(self, frame: pd.DataFrame) -> pd.Series:
        """Probability of reoffending within `horizon_` days, one per row of `frame`."""
        return pd.Series(expit(self.predict_log_odds(frame)), index=frame.index, name="risk")

    @abstractmethod
    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per person, each feature's contribution on the log-odds scale and an `intercept`
        column; every row sums to `predict_log_odds`."""

    @property
    def summary(self) -> pd.DataFrame:
        """What the model learned, one row per term. Where it has a confidence interval it is
        `ci_lower`/`ci_upper`, on the scale of `coef`; a ratio scale has its own columns."""
        self._check_fitted()
        if not hasattr(self, "summary_"):
            raise ValidationError(
                "models.model_fitted_summarise_false",
                "the {name} model was fitted with summarise=False; refit to get its summary",
                name=self.name
            )
        return self.summary_


class LogisticRisk(RiskModel):
    """L2-regularised logistic regression on standardised numbers and one-hot categories.

    `C` is scikit-learn's inverse penalty: the fit minimises C * sum(w * log loss) + |beta|^2 / 2
    over the non-intercept coefficients. Each categorical feature drops its first level
    (alphabetical), which becomes the reference that its coefficients compare with.

    `summary` columns: coef (log-odds per SD of a number, or against the reference level), se
    (robust sandwich), ci_lower, ci_upper (Wald, on the log-odds scale of coef), odds_ratio,
    or_ci_lower, or_ci_upper (the same on the odds-ratio scale), z, p, sd (the SD a numeric
    feature was standardised by).
    """

    name = "logistic"
    explanation_method = Message(
        "models.explain_logistic",
        "Exact: coefficient x standardised value (numbers) or x 0/1 indicator (categories, "
        "against the first level), on the log-odds scale; with the intercept they sum to the "
        "predicted log-odds. A contribution of 0 means 'as the average participant' for numbers."
    )

    def __init__(
        self,
        C: float = 1.0,
        censoring: str = "ipcw",
        max_iter: int = 1000,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.censoring = censoring
        self.max_iter = max_iter
        self.random_state = random_state

    def _make_pipeline(self, numeric: list[str], categorical: list[str]) -> Pipeline:
        if not (isinstance(self.C, int | float) and self.C > 0):
            raise ValidationError("models.c_positive_number",
                                  "C must be a positive number, got {c!r}",
                                  c=self.C)
        encoder = OneHotEncoder(
            categories=[self.categories_[c] for c in categorical] or "auto",
            drop="first",
            sparse_output=False,
            handle_unknown="error",
        )
        transformer = ColumnTransformer(
            [("numeric", StandardScaler(), numeric), ("categorical", encoder, categorical)],
            remainder="drop",
        )
        classifier = LogisticRegression(
            C=self.C, max_iter=self.max_iter, tol=1e-8, random_state=self.random_state
        )
        return Pipeline([("prepare", transformer), ("clf", classifier)])

    def _columns(self) -> tuple[list[str], list[str]]:
        """Names of the design columns and the feature each comes from, in pipeline order."""
        names, owners = list(self.numeric_features_), list(self.numeric_features_)
        for column in self.categorical_features_:
            for level in self.categories_[column][1:]:
                names.append(f"{column}={level}")
                owners.append(column)
        return names, owners

    def _after_fit(self, x: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> None:
        z = self.pipeline_.named_steps["prepare"].transform(x)
        clf = self.pipeline_.named_steps["clf"]
        beta = np.concatenate([clf.intercept_, clf.coef_[0]])
        design = np.column_stack([np.ones(len(z)), z])
        p = expit(design @ beta)
        # Robust (sandwich) covariance: the IPCW weights are not frequency weights, so the
        # model-based variance would be too small; the penalty enters the "bread".
        bread = design.T @ (design * (w * p * (1 - p))[:, None])
        bread[1:, 1:] += np.eye(len(beta) - 1) / self.C
        meat = design.T @ (design * (w * w * (y - p) ** 2)[:, None])
        inverse = np.linalg.pinv(bread)
        se = np.sqrt(np.clip(np.diag(inverse @ meat @ inverse), 0, None))
        z_value = np.divide(beta, se, out=np.full_like(beta, np.nan), where=se > 0)
        q = stats.norm.ppf(0.975)
        names, _ = self._columns()
        scaler = self.pipeline_.named_steps["prepare"].named_transformers_["numeric"]
        sd = np.full(len(beta), np.nan)
        if self.numeric_features_:
            sd[1 : 1 + len(self.numeric_features_)] = scaler.scale_
        self.summary_ = pd.DataFrame(
            {
                "coef": beta,
                "se": se,
                "ci_lower": beta - q * se,
                "ci_upper": beta + q * se,
                "odds_ratio": np.exp(beta),
                "or_ci_lower": np.exp(beta - q * se),
                "or_ci_upper": np.exp(beta + q * se),
                "z": z_value,
                "p": 2 * stats.norm.sf(np.abs(z_value)),
                "sd": sd,
            },
            index=pd.Index(["intercept", *names], name="term"),
        )

    def stored_parameters(self) -> dict[str, Any]:
        """What the model learned, as JSON: enough to predict and explain exactly, and no rows
        (`explain_stored` reads it back)."""
        self._check_fitted()
        prepare = self.pipeline_.named_steps["prepare"]
        clf = self.pipeline_.named_steps["clf"]
        scaler = prepare.named_transformers_["numeric"] if self.numeric_features_ else None
        return {
            "numeric": list(self.numeric_features_),
            "categorical": list(self.categorical_features_),
            "categories": {k: list(v) for k, v in self.categories_.items()},
            "mean": [float(v) for v in scaler.mean_] if scaler is not None else [],
            "scale": [float(v) for v in scaler.scale_] if scaler is not None else [],
            "coef": [float(v) for v in clf.coef_[0]],
            "intercept": float(clf.intercept_[0]),
        }

    @staticmethod
    def explain_stored(
        parameters: Mapping[str, Any], features: Sequence[str], frame: pd.DataFrame
    ) -> pd.DataFrame:
        """The explanation of `explain` from `stored_parameters()`: coefficient x standardised
        value (numbers), x 0/1 indicator against the first level (categories), and `intercept`;
        so a stored model explains (and, summed, predicts) without its pipeline."""
        coef = iter(parameters["coef"])
        out = pd.DataFrame(0.0, index=frame.index, columns=[*features, "intercept"])
        for column, mean, scale in zip(
            parameters["numeric"], parameters["mean"], parameters["scale"], strict=True
        ):
            values = frame[column].to_numpy(dtype=float)
            out[column] += (values - mean) / scale * next(coef)
        for column in parameters["categorical"]:
            levels = parameters["categories"][column]
            values = frame[column].astype(str).to_numpy()
            unknown = [v for v in values if v not in levels]
            if unknown:
                raise ValidationError(
                    "models.feature_level_model_never_2",
                    "feature {column} is {first_unknown!r}, a level the model never saw (it "
                    "knows {levels}); fit a new model that includes it",
                    column=column, first_unknown=unknown[0], levels=', '.join(map(repr, levels))
                )
            for level in levels[1:]:
                out[column] += (values == level) * next(coef)
        out["intercept"] = float(parameters["intercept"])
        return out

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Exact additive explanation: coefficient x standardised value, summed per feature."""
        x = self._prepare(frame)
        return self.explain_stored(self.stored_parameters(), self.features_, x)


class GradientBoostingRisk(RiskModel):
    """Histogram gradient boosting with shallow trees and a slow learning rate, for few events."""

    name = "gradient_boosting"
    explanation_method = Message(
        "models.explain_shapley",
        "Approximate: baseline Shapley values (Sundararajan & Najmi 2020) against a reference "
        "participant (training means for numbers, most common level for categories), estimated "
        "from n_permutations feature orders (rounded down to antithetic pairs). Each row sums "
        "exactly to the predicted log-odds (intercept = the reference participant's log-odds), "
        "but a single contribution carries Monte Carlo error and ignores how features co-vary."
    )

    def __init__(
        self,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_depth: int = 3,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        censoring: str = "ipcw",
        n_permutations: int = 16,
        random_state: int | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.censoring = censoring
        self.n_permutations = n_permutations
        self.random_state = random_state

    def _make_pipeline(self, numeric: list[str], categorical: list[str]) -> Pipeline:
        encoder = OneHotEncoder(
            categories=[self.categories_[c] for c in categorical] or "auto",
            sparse_output=False,
            handle_unknown="error",
        )
        transformer = ColumnTransformer(
            [("numeric", "passthrough", numeric), ("categorical", encoder, categorical)],
            remainder="drop",
        )
        classifier = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        return Pipeline([("prepare", transformer), ("clf", classifier)])

    def _remember(self, x: pd.DataFrame, w: np.ndarray) -> None:
        reference = {}
        for column in self.numeric_features_:
            reference[column] = [float(np.average(x[column], weights=w))]
        for column in self.categorical_features_:
            reference[column] = [x[column].mode().sort_values().iloc[0]]
        self.reference_ = pd.DataFrame(reference)[list(x.columns)]

    def _after_fit(self, x: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> None:
        importance = permutation_importance(
            self.pipeline_,
            x,
            y,
            scoring="roc_auc",
            n_repeats=10,
            random_state=self.random_state,
            sample_weight=w,
        )
        self.summary_ = pd.DataFrame(
            {
                "importance": importance.importances_mean,
                "importance_low": np.percentile(importance.importances, 2.5, axis=1),
                "importance_high": np.percentile(importance.importances, 97.5, axis=1),
            },
            index=pd.Index(list(x.columns), name="feature"),
        )

    @property
    def summary(self) -> pd.DataFrame:
        """Permutation importance (drop in weighted AUC) on the training rows, with the 2.5-97.5%
        range over 10 permutations as `importance_low`/`importance_high`. That range is
        permutation noise, not a confidence interval (so it is not called one), and training-row
        importance is optimistic: use `validate()` for uncertainty."""
        return super().summary

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Baseline Shapley values on the log-odds scale; see `explanation_method`."""
        x = self._prepare(frame)
        columns = list(x.columns)
        n, p = x.shape
        rng = np.random.default_rng(self.random_state)
        start = pd.DataFrame(
            {c: np.repeat(self.reference_[c].to_numpy(), n) for c in columns}, index=x.index
        )
        total = np.zeros((n, p))
        pairs = max(1, int(self.n_permutations) // 2)
        with _one_thread():
            base = float(self.pipeline_.decision_function(self.reference_)[0])
            for _ in range(pairs):
                order = rng.permutation(p)
                for sequence in (order, order[::-1]):
                    current = start.copy()
                    previous = np.full(n, base)
                    for j in sequence:
                        current[columns[j]] = x[columns[j]].to_numpy()
                        now = self.pipeline_.decision_function(current)
                        total[:, j] += now - previous
                        previous = now
        out = pd.DataFrame(total / (2 * pairs), index=frame.index, columns=columns)
        out = out[list(self.features_)]
        out["intercept"] = base
        return out


def _build_registry(models: Iterable[type[RiskModel]]) -> dict[str, type[RiskModel]]:
    registry: dict[str, type[RiskModel]] = {}
    for model in models:
        if model.name in registry:
            raise ValueError(f"two risk models are named {model.name!r}")
        registry[model.name] = model
    return registry


# A new model is one class above and one entry here; names are stored in model cards, so they
# are explicit constants, never derived from class names.
RISK_MODELS: dict[str, type[RiskModel]] = _build_registry((LogisticRisk, GradientBoostingRisk))


def get_model(name: str, **params: Any) -> RiskModel:
    """A new, unfitted risk model by registered name, with its parameters."""
    if name not in RISK_MODELS:
        raise ValidationError(
            "models.no_risk_model_named",
            "no risk model named {name!r}; choose one of {risk_models}",
            name=name, risk_models=', '.join(sorted(RISK_MODELS))
        )
    try:
        return RISK_MODELS[name](**params)
    except TypeError as exc:
        raise ValidationError("models.risk_model_does_not",
                              "risk model {name!r} does not take these parameters: {exc}",
                              name=name, exc=exc) from exc


# ---------------------------------------------------------------- recalibration


def _weighted_logistic(
    columns: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray | None = None
) -> np.ndarray:
    """Weighted maximum likelihood logistic fit by Newton's method; NaN when it cannot exist."""
    x = np.asarray(columns, dtype=float).reshape(len(y), -1)
    off = np.zeros(len(y)) if offset is None else offset
    positive = (w * y).sum()
    negative = (w * (1 - y)).sum()
    if positive <= 0 or negative <= 0:
        return np.full(x.shape[1], np.nan)
    beta = np.zeros(x.shape[1])

    def loglik(b: np.ndarray) -> float:
        eta = off + x @ b
        return float((w * (y * eta - np.logaddexp(0, eta))).sum())

    current = loglik(beta)
    for _ in range(100):
        p = expit(off + x @ beta)
        gradient = x.T @ (w * (y - p))
        hessian = x.T @ (x * (w * p * (1 - p))[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return np.full(x.shape[1], np.nan)
        scale = 1.0
        while scale > 1e-8:
            trial = beta + scale * step
            value = loglik(trial)
            if value >= current - 1e-12:
                break
            scale /= 2
        beta, previous, current = trial, current, value
        if abs(current - previous) < 1e-12 and np.max(np.abs(scale * step)) < 1e-9:
            break
    if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 50:
        return np.full(x.shape[1], np.nan)
    return beta


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    return np.log(clipped) - np.log1p(-clipped)


def calibration_intercept_slope(
    y_true: Sequence[float] | np.ndarray,
    risk: Sequence[float] | np.ndarray,
    sample_weight: Sequence[float] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Calibration intercept (in the large) and slope of predicted risks against outcomes.

    Slope: b in logit P(y=1) = a + b * logit(risk). Intercept: a in logit P(y=1) = a +
    logit(risk), the slope fixed at 1 (Van Calster et al. 2016). A perfectly calibrated
    predictor has intercept 0 and slope 1. Reference: statsmodels GLM(y, [1, logit(risk)],
    family=Binomial(), var_weights=w). NaN when there are no events or no non-events.
    """
    y = np.asarray(y_true, dtype=float)
    lp = _logit(np.asarray(risk, dtype=float))
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    keep = w > 0
    y, lp, w = y[keep], lp[keep], w[keep]
    intercept = _weighted_logistic(np.ones((len(y), 1)), y, w, offset=lp)[0]
    slope = _weighted_logistic(np.column_stack([np.ones(len(y)), lp]), y, w)[1]
    return float(intercept), float(slope)


class RecalibratedRisk:
    """A fitted risk model whose log-odds are mapped to a local base rate: a + b * log-odds."""

    def __init__(self, base_model: RiskModel, intercept: float, slope: float, method: str) -> None:
        self.base_model = base_model
        self.intercept_ = intercept
        self.slope_ = slope
        self.method = method
        self.name = f"{base_model.name}+recalibrated"
        self.horizon_ = base_model.horizon_
        self.features_ = base_model.features_

    def predict_log_odds(self, frame: pd.DataFrame) -> pd.Series:
        base = self.base_model.predict_log_odds(frame)
        return (self.intercept_ + self.slope_ * base).rename("log_odds")

    def predict_risk(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(expit(self.predict_log_odds(frame)), index=frame.index, name="risk")

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The base model's contributions times the slope; the intercept absorbs a."""
        out = self.base_model.explain(frame) * self.slope_
        out["intercept"] += self.intercept_
        return out


def recalibrate(
    model: RiskModel,
    frame: pd.DataFrame,
    *,
    method: str = "logistic",
) -> RecalibratedRisk:
    """Recalibrate a fitted model to a local cohort at its horizon.

    method="in_the_large" shifts the log-odds by a (slope fixed at 1) so that the weighted
    mean risk matches the local IPCW event rate; "logistic" also rescales them (a + b * lp),
    which also corrects risks that are too extreme. Uses the model's own columns and censoring.
    """
    if method not in ("in_the_large", "logistic"):
        raise ValidationError("models.method_large_logistic",
                              "method must be 'in_the_large' or 'logistic', got {method!r}",
                              method=method)
    model._check_fitted()
    labels = horizon_labels(
        frame[model.duration_col_],
        frame[model.event_col_],
        model.horizon_,
        censoring=model.censoring,
    )
    events = int((labels["status"] == STATUS_EVENT).sum())
    if events < MIN_EVENTS:
        raise _too_few(events, "events", model.horizon_, len(frame), " in the local cohort")
    lp = model.predict_log_odds(frame).to_numpy()
    y = labels["label"].to_numpy().astype(float)
    w = labels["weight"].to_numpy()
    keep = w > 0
    if method == "in_the_large":
        a = _weighted_logistic(np.ones((keep.sum(), 1)), y[keep], w[keep], offset=lp[keep])[0]
        b = 1.0
    else:
        a, b = _weighted_logistic(
            np.column_stack([np.ones(keep.sum()), lp[keep]]), y[keep], w[keep]
        )
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValidationError(
            "models.local_cohort_separates_perfectly",
            "the local cohort separates perfectly on the model's risk, so no recalibration can "
            "be estimated; check the cohort or use method='in_the_large'"
        )
    return RecalibratedRisk(model, float(a), float(b), method)


# ---------------------------------------------------------------- validation


@dataclass
class CalibrationTable:
    """Predicted against observed risk by bins of predicted risk, observed with a Wilson CI."""

    table: pd.DataFrame
    horizon: float

    def plot(self) -> go.Figure:
        t = self.table
        top = float(np.nanmax([t["ci_upper"].max(), t["mean_predicted"].max(), 0.05])) * 1.05
        figure = go.Figure()
        figure.add_trace(
            go.Scatter(
                x=[0, top],
                y=[0, top],
                mode="lines",
                name="perfect calibration",
                line={"dash": "dash", "color": "grey"},
            )
        )
        figure.add_trace(
            go.Scatter(
                x=t["mean_predicted"],
                y=t["observed"],
                mode="markers+lines",
                name="observed (95% CI)",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": t["ci_upper"] - t["observed"],
                    "arrayminus": t["observed"] - t["ci_lower"],
                },
                customdata=np.column_stack([t["n"], t["events"]]),
                hovertemplate=(
                    "predicted %{x:.1%}<br>observed %{y:.1%}<br>"
                    "%{customdata[0]} participants, %{customdata[1]} events<extra></extra>"
                ),
            )
        )
        figure.update_layout(
            xaxis_title=f"Predicted risk of reoffending within {self.horizon:g} days",
            yaxis_title="Observed share (censoring-weighted)",
            xaxis={"range": [0, top], "tickformat": ".0%"},
            yaxis={"range": [0, top], "tickformat": ".0%"},
        )
        return figure


def calibration_table(
    risk: Sequence[float] | np.ndarray,
    labels: pd.DataFrame,
    horizon: float,
    n_bins: int | None = None,
    ci: float = 0.95,
) -> CalibrationTable:
    """Bins of predicted risk (quantiles; about 10 events per bin, at most 10 bins).

    `labels` is a `horizon_labels` frame. Observed = weighted event share in the bin; its CI is
    Wilson's on Kish's effective n. Censored participants count in `n` and `mean_predicted`.
    """
    p = np.asarray(risk, dtype=float)
    y = labels["label"].to_numpy()
    w = labels["weight"].to_numpy()
    events = int((labels["status"] == STATUS_EVENT).sum())
    if n_bins is None:
        n_bins = int(min(10, max(2, events // 10)))
    ranks = pd.Series(p).rank(method="first").to_numpy()
    bins = pd.qcut(ranks, q=min(n_bins, len(p)), labels=False)
    rows = []
    for b in range(int(bins.max()) + 1):
        member = bins == b
        ww = w[member]
        observed = float(np.average(y[member], weights=ww)) if ww.sum() > 0 else float("nan")
        n_eff = ww.sum() ** 2 / np.square(ww).sum() if ww.sum() > 0 else 0.0
        lower, upper = wilson_interval(observed, n_eff, ci)
        rows.append(
            {
                "bin": b + 1,
                "n": int(member.sum()),
                "events": int(((labels["status"].to_numpy() == STATUS_EVENT) & member).sum()),
                "risk_min": float(p[member].min()),
                "risk_max": float(p[member].max()),
                "mean_predicted": float(p[member].mean()),
                "observed": observed,
                "ci_lower": lower,
                "ci_upper": upper,
            }
        )
    return CalibrationTable(pd.DataFrame(rows).set_index("bin"), float(horizon))


def weighted_auc(
    y_true: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    sample_weight: Sequence[float] | np.ndarray | None = None,
) -> float:
    """AUC with case weights, ties counted one half, in O(n log n).

    Same value as sklearn.metrics.roc_auc_score(y, score, sample_weight=w) without its input
    checks, which dominate the bootstrap's run time. NaN without events or non-events.
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    positive = w * y
    negative = w * (1 - y)
    total_positive, total_negative = positive.sum(), negative.sum()
    if total_positive <= 0 or total_negative <= 0:
        return float("nan")
    values, inverse = np.unique(s, return_inverse=True)
    pos_at = np.bincount(inverse, weights=positive, minlength=len(values))
    neg_at = np.bincount(inverse, weights=negative, minlength=len(values))
    neg_below = np.cumsum(neg_at) - neg_at
    pairs = (pos_at * (neg_below + 0.5 * neg_at)).sum()
    return float(pairs / (total_positive * total_negative))


def _metrics(y: np.ndarray, w: np.ndarray, p: np.ndarray) -> np.ndarray:
    """auc, brier, eo_ratio, calibration intercept, slope of risks `p` on (y, IPCW w)."""
    keep = w > 0
    yk, wk, pk = y[keep], w[keep], p[keep]
    if wk.sum() <= 0 or yk.min() == yk.max():
        nan = float("nan")
        return np.array([nan, nan, nan, nan, nan])
    observed = np.average(yk, weights=wk)
    auc = weighted_auc(yk, pk, wk)
    brier = np.average((yk - pk) ** 2, weights=wk)
    eo = p.mean() / observed
    intercept, slope = calibration_intercept_slope(yk, pk, wk)
    return np.array([auc, brier, eo, intercept, slope])


@dataclass
class ValidationResult:
    """Cross-validated performance of one risk model at one horizon; every figure has a CI."""

    model_name: str
    horizon: float
    n: int
    events: int
    censored: int
    n_predictors: int
    epv: float
    summary: pd.DataFrame
    per_repeat: pd.DataFrame
    calibration: CalibrationTable
    subgroups: dict[str, pd.DataFrame]
    threshold: float
    warnings: list[Message]
    settings: dict[str, Any] = field(default_factory=dict)

    def plot(self) -> go.Figure:
        return self.calibration.plot()


def validate(
    model_name: str,
    frame: pd.DataFrame,
    features: Sequence[str],
    horizon: float = DEFAULT_HORIZON,
    n_splits: int = 5,
    n_repeats: int = 10,
    random_state: int | None = None,
    *,
    model_params: Mapping[str, Any] | None = None,
    duration_col: str = "duration",
    event_col: str = "event",
    n_bootstrap: int = 200,
    n_bins: int | None = None,
    subgroups: Sequence[str] = (),
    threshold: float | None = None,
    ci: float = 0.95,
) -> ValidationResult:
    """Repeated stratified cross-validation of a registered risk model at `horizon`.

    Each repeat gives every participant one out-of-fold risk; metrics are computed on those
    (IPCW-weighted, weights from the whole cohort's censoring distribution) and averaged over
    repeats for the estimate. CI: percentile bootstrap over participants (`n_bootstrap`
    resamples) of that repeat-averaged metric; the fold models are not refitted inside the
    bootstrap, so the interval covers sampling variation of the evaluation, not of fitting.
    Folds are stratified on the status at the horizon (event / event free / censored).

    Metrics: `auc` (IPCW-weighted), `brier`, `eo_ratio` (mean predicted risk of everyone /
    IPCW observed rate), `calibration_intercept` and `calibration_slope`
    (`calibration_intercept_slope`). The calibration table bins the repeat-averaged
    out-of-fold risks. `subgroups` names columns for `fairness.group_metrics` at `threshold`
    (default: the cohort's observed event rate).
    """
    model = get_model(model_name, **dict(model_params or {}))
    if "random_state" in model.get_params() and "random_state" not in (model_params or {}):
        model.set_params(random_state=random_state)
    features = _check_frame(frame, features, duration_col, event_col)
    for column in subgroups:
        if column not in frame.columns:
            raise ValidationError("models.subgroup_column_not_frame",
                                  "subgroup column {column!r} is not in the frame",
                                  column=column)
    if not (isinstance(n_splits, int) and n_splits >= 2):
        raise ValidationError("models.n_splits_integer",
                              "n_splits must be an integer >= 2, got {n_splits!r}",
                              n_splits=n_splits)
    if not (isinstance(n_repeats, int) and n_repeats >= 1):
        raise ValidationError("models.n_repeats_integer",
                              "n_repeats must be an integer >= 1, got {n_repeats!r}",
                              n_repeats=n_repeats)
    if not (isinstance(n_bootstrap, int) and n_bootstrap >= 20):
        raise ValidationError("models.n_bootstrap_integer",
                              "n_bootstrap must be an integer >= 20, got {n_bootstrap!r}",
                              n_bootstrap=n_bootstrap)
    labels = horizon_labels(
        frame[duration_col], frame[event_col], horizon, censoring=model.censoring
    )
    _check_feature_values(frame, features)
    n = len(frame)
    status = labels["status"].to_numpy()
    events = int((status == STATUS_EVENT).sum())
    censored = int((status == STATUS_CENSORED).sum())
    fold_events = events - math.ceil(events / n_splits)
    if fold_events < MIN_EVENTS:
        raise ValidationError(
            "models.events_within_days_among",
            "only {events} events within {horizon:g} days among {n} participants, so a "
            "{n_splits}-fold training set has about {fold_events}; at least {min_events} are "
            "needed to fit. Use fewer folds (n_splits), a longer horizon or more cohorts.",
            events=events, horizon=horizon, n=n, n_splits=n_splits, fold_events=fold_events,
            min_events=MIN_EVENTS
        )
    predictors = count_predictors(frame, features)
    epv = events / predictors if predictors else float("inf")
    categories = {
        c: sorted(set(frame[c].astype(str))) for c in features if not _is_numeric(frame[c])
    }
    strata = pd.Series(status)
    if strata.value_counts().min() < n_splits:
        strata = pd.Series(np.where(status == STATUS_EVENT, STATUS_EVENT, "other"))
    splitter = RepeatedStratifiedKFold(
        n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
    )
    oof = np.full((n_repeats, n), np.nan)
    for split, (train, test) in enumerate(splitter.split(np.zeros(n), strata)):
        fitted = clone(model).fit(
            frame.iloc[train],
            features,
            horizon,
            duration_col=duration_col,
            event_col=event_col,
            categories=categories,
            summarise=False,
        )
        oof[split // n_splits, test] = fitted.predict_risk(frame.iloc[test]).to_numpy()

    y = labels["label"].to_numpy().astype(float)
    w = labels["weight"].to_numpy()
    per_repeat = np.vstack([_metrics(y, w, oof[r]) for r in range(n_repeats)])
    estimate = per_repeat.mean(axis=0)
    rng = np.random.default_rng(random_state)
    boot = np.empty((n_bootstrap, len(METRICS)))
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        boot[b] = np.mean([_metrics(y[idx], w[idx], oof[r, idx]) for r in range(n_repeats)], axis=0)
    undefined = int(np.isnan(boot).any(axis=1).sum())
    alpha = (1 - ci) / 2 * 100
    summary = pd.DataFrame(
        {
            "estimate": estimate,
            "ci_lower": np.nanpercentile(boot, alpha, axis=0),
            "ci_upper": np.nanpercentile(boot, 100 - alpha, axis=0),
        },
        index=pd.Index(METRICS, name="metric"),
    )
    mean_risk = oof.mean(axis=0)
    calibration = calibration_table(mean_risk, labels, horizon, n_bins, ci)

    notes = _epv_warning(events, predictors)
    if undefined:
        notes.append(Message(
            "models.bootstrap_undefined",
            "In {undefined} of {n_bootstrap} bootstrap resamples a metric could not be computed "
            "(no events, or perfect separation); the intervals leave those out and may be too "
            "narrow.",
            undefined=undefined, n_bootstrap=n_bootstrap))
    if censored > n / 2:
        notes.append(Message(
            "models.censored_before_horizon",
            "{censored} of {n} participants were censored before {horizon:g} days; the "
            "censoring weights rest on the few followed that long, so figures are fragile.",
            censored=censored, n=n, horizon=horizon))
    if threshold is None:
        threshold = float(np.average(y, weights=w))
    known = w > 0
    subgroup_tables = {}
    for column in subgroups:
        table = group_metrics(
            y[known],
            mean_risk[known],
            frame[column].to_numpy()[known],
            threshold,
            sample_weight=w[known],
            ci=ci,
        )
        subgroup_tables[column] = table
        notes.extend(small_group_warnings(table, label=column))
    return ValidationResult(
        model_name=model_name,
        horizon=float(horizon),
        n=n,
        events=events,
        censored=censored,
        n_predictors=predictors,
        epv=float(epv),
        summary=summary,
        per_repeat=pd.DataFrame(per_repeat, columns=list(METRICS)).rename_axis("repeat"),
        calibration=calibration,
        subgroups=subgroup_tables,
        threshold=float(threshold),
        warnings=notes,
        settings={
            "n_splits": n_splits,
            "n_repeats": n_repeats,
            "n_bootstrap": n_bootstrap,
            "random_state": random_state,
            "ci": ci,
            "model_params": dict(model.get_params(deep=False)),
            "ci_method": (
                "percentile bootstrap over participants of the repeat-averaged out-of-fold "
                "metric; fold models not refitted"
            ),
            "censoring": str(CENSORING_TEXT[model.censoring]),
        },
    )
