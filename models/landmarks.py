"""When each feature of the analysis frame becomes known, and so which a risk model may use at each landmark.

A risk model predicts at a landmark (`vocab.LANDMARKS`): after the planning step, from the intake
facts and the planning scores; or at the end of the programme, when completion, the sessions
attended and the change on the matrix are known. A model fitted for a landmark may use only the
features known by then, and a prediction is made only with a model of the landmark the young
person has reached: someone still in the programme has no completion yet, so a model that uses
completion says nothing true about them ("completed 0" would be counted as raising the risk).

Pure: names in, names out. The table below is the one place that says when a feature is known;
`features_after` is what the fit and every prediction check against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import vocab
from errors import ValidationError

INTAKE = "intake"
# The moments a feature can become known, in order.
MOMENTS: tuple[str, ...] = (INTAKE, *vocab.STEPS)


def _declared() -> dict[str, str]:
    known = {name: INTAKE for name in (
        "age_at_referral", "age_at_offence", "age_band", "sex", "prior_offences", "programme",
        "cohort", "offence_group")}
    known.update({f"offence_{kind}": INTAKE for kind in vocab.OFFENCE_TYPES})
    for domain in vocab.DOMAINS:
        for stage in vocab.STEPS:
            known[f"score_{domain}_{stage}"] = stage
        # Change is a difference to the conclusion (or to the last step reached, which is only
        # known to be the last one when the programme ends).
        known[f"change_{domain}"] = vocab.CONCLUSION
        known[f"change_to_last_{domain}"] = vocab.CONCLUSION
    # Counts and completion grow or settle only at the end.
    known["sessions_attended"] = vocab.CONCLUSION
    known["completed"] = vocab.CONCLUSION
    return known


# feature -> the moment it becomes known (INTAKE or a step). Nothing missing from here is a feature.
KNOWN_AT: dict[str, str] = _declared()

# What each landmark's model uses unless the analyst chooses.
DEFAULT_FEATURES: dict[str, tuple[str, ...]] = {
    vocab.PLANNING: ("age_at_referral", "prior_offences", "programme"),
    vocab.CONCLUSION: ("age_at_referral", "prior_offences", "sessions_attended", "completed",
                       "programme"),
}


def check_landmark(landmark: str) -> str:
    if landmark not in vocab.LANDMARKS:
        raise ValidationError("models.landmark_not_one",
                              "landmark {landmark!r} is not one of {landmarks}.",
                              landmark=landmark, landmarks=", ".join(vocab.LANDMARKS))
    return landmark


def known_at(feature: str) -> str:
    """The moment a feature becomes known; an undeclared feature is refused, never guessed."""
    if feature not in KNOWN_AT:
        raise ValidationError(
            "models.feature_not_declared",
            "feature {feature!r} has no declared moment at which it becomes known "
            "(models.landmarks.KNOWN_AT), so no landmark may use it.",
            feature=feature)
    return KNOWN_AT[feature]


def features_after(features: Iterable[str], landmark: str) -> list[str]:
    """The features not yet known at the landmark (in the order given)."""
    limit = MOMENTS.index(check_landmark(landmark))
    return [f for f in features if MOMENTS.index(known_at(f)) > limit]


def check_features(features: Sequence[str], landmark: str) -> None:
    """Refuse features recorded after the landmark."""
    late = features_after(features, landmark)
    if late:
        raise ValidationError(
            "models.feature_after_landmark",
            "{late} become known only after the {landmark} landmark, so a model predicting at "
            "{landmark} cannot use them; remove them or fit for a later landmark.",
            late=", ".join(late), landmark=landmark)


def landmark_reached(*, ended: bool, steps: dict[str, str]) -> str | None:
    """The landmark a young person has reached: conclusion once the programme ended for them,
    planning once their planning step is signed (scores final, countersigned), else none.

    `steps`: stage -> status of the current row of each step.
    """
    if ended:
        return vocab.CONCLUSION
    if steps.get(vocab.PLANNING) == vocab.SIGNED:
        return vocab.PLANNING
    return None


__all__ = [
    "DEFAULT_FEATURES",
    "INTAKE",
    "KNOWN_AT",
    "MOMENTS",
    "check_features",
    "check_landmark",
    "features_after",
    "known_at",
    "landmark_reached",
]
