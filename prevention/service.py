"""Use cases of prevention education: programmes, deliveries, survey imports, effect by audience, committee reviews.

No child is named or coded anywhere here: a delivery is a class (level, kind of institution,
district, number present) and a survey sheet is anonymous, with at most a pairing code the class
made up. An educator records and reads only their own deliveries (the same NotFound for someone
else's as for a missing one); the committee reads aggregates only, through suppression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select

import vocab
from casework.notes_guard import check_note
from db import access
from db.context import Context
from db.schema import (
    PreventionDelivery,
    PreventionProgramme,
    PreventionRecommendation,
    PreventionReview,
    PreventionSurvey,
    utcnow,
)
from errors import Conflict, Message, NotFound, ValidationError
from matrix import reviews
from matrix.suppression import suppress
from prevention import effects
from prevention.instruments import get_survey_instrument, instrument_for
from prevention.surveys import parse_survey

GROUPINGS = ("audience", "format", "audience_format", "programme")
REVIEW_INDICATORS, REVIEW_SCALE = reviews.REVIEW_INDICATORS, reviews.REVIEW_SCALE


def _one_of(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValidationError("prevention.unknown_code",
                              "{what} {value!r} is not one of {allowed}",
                              what=what, value=value, allowed=", ".join(allowed))
    return value


# --- programmes ---------------------------------------------------------------------------------

def add_prevention_programme(ctx: Context, *, name: str, audiences: Sequence[str], format: str,
                             version: int = 1, tailored_from_id: int | None = None,
                             description: str = "") -> int:
    """A prevention programme version for its audiences, in one format, maybe tailored from another."""
    access.require(ctx, "prevention.manage")
    name = (name or "").strip()
    if not 1 <= len(name) <= 128:
        raise ValidationError("prevention.programme_name",
                              "name the programme in 1-128 characters")
    audiences = list(dict.fromkeys(audiences))
    if not audiences:
        raise ValidationError("prevention.programme_audiences",
                              "choose at least one audience the programme is written for")
    for a in audiences:
        _one_of(a, vocab.AUDIENCES, "audience")
    _one_of(format, vocab.EDUCATION_FORMATS, "format")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError("prevention.programme_version",
                              "the version is a whole number from 1, got {version!r}",
                              version=version)
    check_note(description, field="programme description")
    with ctx.transaction() as s:
        if tailored_from_id is not None and s.get(PreventionProgramme, tailored_from_id) is None:
            raise _no_programme(tailored_from_id)
        if s.scalar(select(PreventionProgramme.id).where(
                PreventionProgramme.name == name, PreventionProgramme.version == version)):
            raise Conflict("prevention.programme_exists",
                           "{name!r} version {version} exists already; give the new one the next "
                           "version", name=name, version=version)
        row = PreventionProgramme(name=name, version=version, audiences=audiences, format=format,
                                  tailored_from_id=tailored_from_id,
                                  description=(description or "").strip(),
                                  created_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def _no_programme(programme_id: int) -> NotFound:
    return NotFound("prevention.no_programme", "No prevention programme {programme_id}.",
                    programme_id=programme_id)


PROGRAMME_COLUMNS = ["programme_id", "name", "version", "audiences", "format", "tailored_from_id",
                     "tailored_from", "description"]


def list_prevention_programmes(ctx: Context) -> pd.DataFrame:
    """Every prevention programme version, with the one it was tailored from."""
    access.require(ctx, "prevention.list")
    rows = ctx.session.scalars(select(PreventionProgramme).order_by(PreventionProgramme.id)).all()
    by_id = {r.id: r for r in rows}
    out = pd.DataFrame([{
        "programme_id": r.id, "name": r.name, "version": r.version, "audiences": list(r.audiences),
        "format": r.format, "tailored_from_id": r.tailored_from_id,
        "tailored_from": (f"{by_id[r.tailored_from_id].name} v{by_id[r.tailored_from_id].version}"
                          if r.tailored_from_id in by_id else None),
        "description": r.description} for r in rows], columns=PROGRAMME_COLUMNS)
    ctx.session.rollback()
    return out


# --- deliveries -----------------------------------------------------------------------------------

def record_delivery(ctx: Context, *, programme_id: int, delivered_on: dt.date, audience: str,
                    institution_kind: str, district: str, present: int) -> int:
    """An educator records a class they taught: when, which programme, to whom, where, how many."""
    access.require(ctx, "delivery.record")
    _one_of(audience, vocab.AUDIENCES, "audience")
    _one_of(institution_kind, vocab.INSTITUTION_KINDS, "kind of institution")
    _one_of(district, vocab.SEOUL_DISTRICTS, "district")
    if isinstance(present, bool) or not isinstance(present, int) or not 1 <= present <= 500:
        raise ValidationError("prevention.present_range",
                              "the number present is a whole number 1..500, got {present!r}",
                              present=present)
    if not isinstance(delivered_on, dt.date) or delivered_on > ctx.today:
        raise ValidationError("prevention.delivery_date",
                              "the delivery date must be a date no later than today ({today})",
                              today=ctx.today)
    with ctx.transaction() as s:
        prog = s.get(PreventionProgramme, programme_id)
        if prog is None:
            raise _no_programme(programme_id)
        if audience not in prog.audiences:
            raise ValidationError("prevention.audience_not_of_programme",
                                  "{name} v{version} is written for {audiences}, not {audience}",
                                  name=prog.name, version=prog.version,
                                  audiences=", ".join(prog.audiences), audience=audience)
        row = PreventionDelivery(programme_id=programme_id, delivered_on=delivered_on,
                                 audience=audience, institution_kind=institution_kind,
                                 district=district, present=present, educator_id=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def _own_delivery(ctx: Context, delivery_id: int, action: str) -> PreventionDelivery:
    """Load one of the educator's own deliveries; the same NotFound for another's and a missing one."""
    access.require(ctx, action)
    row = ctx.session.get(PreventionDelivery, delivery_id)
    if row is None or row.educator_id != ctx.actor.id:
        raise NotFound("prevention.no_delivery", "No delivery {delivery_id} of yours.",
                       delivery_id=delivery_id)
    return row


DELIVERY_COLUMNS = ["delivery_id", "delivered_on", "programme", "format", "audience",
                    "institution_kind", "district", "present", "instrument", "n_pre", "n_post",
                    "mean_pre", "mean_post", "change", "satisfaction"]


def my_deliveries(ctx: Context) -> pd.DataFrame:
    """The educator's own deliveries, newest first, each with its survey summary.

    The summary is of one class the educator taught and already knows; it is not published, so it
    is not suppressed (the committee's tables are).
    """
    access.require(ctx, "delivery.read")
    s = ctx.session
    rows = s.execute(
        select(PreventionDelivery, PreventionProgramme)
        .join(PreventionProgramme, PreventionProgramme.id == PreventionDelivery.programme_id)
        .where(PreventionDelivery.educator_id == ctx.actor.id)
        .order_by(PreventionDelivery.delivered_on.desc(), PreventionDelivery.id.desc())).all()
    ids = [d.id for d, _ in rows]
    sheets = pd.DataFrame(s.execute(
        select(PreventionSurvey.delivery_id, PreventionSurvey.time, PreventionSurvey.score,
               PreventionSurvey.satisfaction, PreventionSurvey.instrument_id)
        .where(PreventionSurvey.delivery_id.in_(ids))).all() if ids else [],
        columns=["delivery_id", "time", "score", "satisfaction", "instrument"])
    s.rollback()
    out = []
    for d, p in rows:
        part = sheets[sheets["delivery_id"] == d.id]
        pre, post = part[part["time"] == "pre"], part[part["time"] == "post"]
        mean_pre = float(pre["score"].mean()) if len(pre) else None
        mean_post = float(post["score"].mean()) if len(post) else None
        sat = post["satisfaction"].dropna()
        out.append({"delivery_id": d.id, "delivered_on": d.delivered_on,
                    "programme": f"{p.name} v{p.version}", "format": p.format,
                    "audience": d.audience, "institution_kind": d.institution_kind,
                    "district": d.district, "present": d.present,
                    "instrument": part["instrument"].iloc[0] if len(part) else None,
                    "n_pre": len(pre), "n_post": len(post), "mean_pre": mean_pre,
                    "mean_post": mean_post,
                    "change": (mean_post - mean_pre) if len(pre) and len(post) else None,
                    "satisfaction": float(sat.astype(float).mean()) if len(sat) else None})
    return pd.DataFrame(out, columns=DELIVERY_COLUMNS)


@dataclass(frozen=True)
class SurveyImport:
    delivery_id: int
    instrument_id: str
    n_pre: int
    n_post: int
    paired: bool


def import_surveys(ctx: Context, *, delivery_id: int, data: bytes,
                   instrument_id: str | None = None, file_name: str = "survey.csv") -> SurveyImport:
    """Import a delivery's returned survey file: every row checked first, nothing written when one is wrong.

    The instrument is the one written for the delivery's audience unless named. A delivery's
    sheets are imported once: a second file for the same delivery is refused (Conflict), so a
    file sent twice is not counted twice.
    """
    delivery = _own_delivery(ctx, delivery_id, "delivery.record")
    audience, present = delivery.audience, delivery.present
    ctx.session.rollback()  # the file is read and checked outside any transaction
    inst = get_survey_instrument(instrument_id) if instrument_id else instrument_for(audience)
    if audience not in inst.audiences:
        raise ValidationError("prevention.instrument_not_for_audience",
                              "{instrument} is for {audiences}, not for {audience}",
                              instrument=inst.id, audiences=", ".join(inst.audiences),
                              audience=audience)
    sheets = parse_survey(bytes(data), inst, file_name=file_name)
    counts = {t: sum(sh.time == t for sh in sheets) for t in vocab.SURVEY_TIMES}
    if inst.kind == "self_report" and max(counts.values()) > present:
        raise ValidationError("prevention.more_sheets_than_present",
                              "{file} has {sheets} sheets for one time but {present} children "
                              "were present; check the delivery or the file",
                              file=file_name, sheets=max(counts.values()), present=present)
    with ctx.transaction() as s:
        # The delivery's row is locked (FOR UPDATE on PostgreSQL; SQLite's write lock is taken at
        # the block's start), so that two uploads of the same file cannot both pass the check.
        s.get(PreventionDelivery, delivery_id, with_for_update=True)
        if s.scalar(select(func.count()).select_from(PreventionSurvey)
                    .where(PreventionSurvey.delivery_id == delivery_id)):
            raise Conflict("prevention.surveys_already_imported",
                           "delivery {delivery_id} already has its survey sheets; nothing was "
                           "imported", delivery_id=delivery_id)
        s.add_all([PreventionSurvey(delivery_id=delivery_id, instrument_id=inst.id,
                                    instrument_version=inst.version, time=sh.time,
                                    pair_code=sh.pair_code, answers=sh.answers, score=sh.score,
                                    satisfaction=sh.satisfaction, imported_by=ctx.actor.id)
                   for sh in sheets])
        s.flush()
    return SurveyImport(delivery_id, inst.id, counts["pre"], counts["post"],
                        all(sh.pair_code for sh in sheets))


# --- the committee's effect by audience -----------------------------------------------------------

def _sheets(ctx: Context) -> pd.DataFrame:
    rows = ctx.session.execute(
        select(PreventionSurvey.delivery_id, PreventionProgramme.id, PreventionProgramme.name,
               PreventionProgramme.version, PreventionDelivery.audience,
               PreventionProgramme.format, PreventionSurvey.time, PreventionSurvey.pair_code,
               PreventionSurvey.score, PreventionSurvey.satisfaction, PreventionDelivery.present)
        .join(PreventionDelivery, PreventionDelivery.id == PreventionSurvey.delivery_id)
        .join(PreventionProgramme, PreventionProgramme.id == PreventionDelivery.programme_id)
    ).all()
    ctx.session.rollback()
    frame = pd.DataFrame(rows, columns=["delivery", "programme_id", "name", "version", "audience",
                                        "format", "time", "pair_code", "score", "satisfaction",
                                        "present"])
    frame["programme"] = frame["name"].astype(str) + " v" + frame["version"].astype(str)
    frame["score"] = frame["score"].astype(float)
    return frame


def _by_columns(by: str) -> list[str]:
    if by not in GROUPINGS:
        raise ValidationError("prevention.unknown_grouping",
                              "group by one of {groupings}, not {by!r}",
                              groupings=", ".join(GROUPINGS), by=by)
    return ["audience", "format"] if by == "audience_format" else [by]


@dataclass(frozen=True)
class PreventionEffects:
    """What the committee's effect page shows, every table through suppression.

    - `table`: [by], n (children), n_classes, mean_pre, mean_post, change, se, ci_lower, ci_upper,
      t, p (class-level change, `prevention.effects.change_by`).
    - `satisfaction`: [by], n, n_classes, mean, ci_lower, ci_upper, apart from the change.
    - `model`: the audience x time mixed model over every class (None with `note` when it
      cannot be fitted), and `verdict`: whether audiences differ beyond chance.
    """

    by: str
    threshold: int
    table: pd.DataFrame
    satisfaction: pd.DataFrame
    model: effects.AudienceModel | None
    verdict: Message | str
    note: Message | str = ""

    def forest(self, labels: dict | None = None, **kwargs):
        label = _by_columns(self.by)[0]
        return effects.forest_plot(self.table, label=label, labels=labels, **kwargs)


def _suppressed(table: pd.DataFrame, by: list[str], threshold: int) -> pd.DataFrame:
    if table.empty:
        return table
    return suppress(table, count_col="n", threshold=threshold, key_cols=by).table


def prevention_effects(ctx: Context, *, by: str = "audience") -> PreventionEffects:
    """Pre -> post change by audience (or format, or both, or programme), satisfaction, the model."""
    access.require(ctx, "prevention.effects")
    cols = _by_columns(by)
    threshold = ctx.runtime.settings.suppression_threshold
    sheets = _sheets(ctx)
    classes = effects.class_changes(sheets)
    table = effects.change_by(classes, cols)
    sat = effects.satisfaction_by(sheets, cols)
    model, verdict, note = None, "", ""
    try:
        model = effects.fit_audience_model(sheets)
        verdict = model.verdict()
    except ValidationError as exc:
        note = exc.message
    return PreventionEffects(by, threshold, _suppressed(table, cols, threshold),
                             _suppressed(sat, cols, threshold), model, verdict, note)


def compare_tailored(ctx: Context, *, programme_id: int, audience: str) -> pd.DataFrame:
    """A tailored programme against the one it was tailored from, for one audience (class changes).

    One row (COMPARE_COLUMNS): each side's classes and mean change, the difference (tailored -
    origin) with Welch's interval; suppressed like the committee's other tables (on the children
    of both sides).
    """
    access.require(ctx, "prevention.effects")
    _one_of(audience, vocab.AUDIENCES, "audience")
    prog = ctx.session.get(PreventionProgramme, programme_id)
    if prog is None:
        raise _no_programme(programme_id)
    if prog.tailored_from_id is None:
        raise ValidationError("prevention.not_tailored",
                              "{name} v{version} was not tailored from another programme",
                              name=prog.name, version=prog.version)
    origin = ctx.session.get(PreventionProgramme, prog.tailored_from_id)
    threshold = ctx.runtime.settings.suppression_threshold
    sheets = _sheets(ctx)
    classes = effects.class_changes(sheets[sheets["audience"] == audience])
    label, origin_label = f"{prog.name} v{prog.version}", f"{origin.name} v{origin.version}"
    mine = classes[classes["programme"] == label]
    theirs = classes[classes["programme"] == origin_label]
    stats = effects.compare_changes(mine["change"].to_numpy(), theirs["change"].to_numpy())
    people = int(mine["present"].sum()), int(theirs["present"].sum())
    row = {"audience": audience, "programme": label, "origin": origin_label, "n": min(people),
           "n_classes": len(mine), "n_classes_origin": len(theirs),
           "change": float(mine["change"].mean()) if len(mine) else float("nan"),
           "change_origin": float(theirs["change"].mean()) if len(theirs) else float("nan"),
           **stats}
    table = pd.DataFrame([row], columns=["n", *effects.COMPARE_COLUMNS])
    return suppress(table, count_col="n", threshold=threshold,
                    key_cols=["audience", "programme", "origin"]).table


# --- the committee's reviews and recommendations --------------------------------------------------

def record_prevention_review(ctx: Context, *, programme_id: int, indicator: str, score: int,
                             period: str, comment: str | None = None,
                             indicators: Sequence[str] = REVIEW_INDICATORS) -> int:
    """A committee member rates a prevention programme on one indicator for a period; a new rating
    replaces the member's earlier one for the same programme, indicator and period."""
    access.require(ctx, "prevention.review")
    _one_of(indicator, tuple(indicators), "indicator")
    lo, hi = REVIEW_SCALE
    if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
        raise ValidationError("prevention.review_score",
                              "{indicator}: the score must be a whole number {lo}..{hi}, got "
                              "{score!r}", indicator=indicator, lo=lo, hi=hi, score=score)
    period = _period(period)
    check_note(comment, field="review comment")
    with ctx.transaction() as s:
        if s.get(PreventionProgramme, programme_id) is None:
            raise _no_programme(programme_id)
        row = s.scalars(select(PreventionReview).where(
            PreventionReview.programme_id == programme_id,
            PreventionReview.rater_id == ctx.actor.id, PreventionReview.indicator == indicator,
            PreventionReview.period == period)).one_or_none()
        if row is None:
            row = PreventionReview(programme_id=programme_id, rater_id=ctx.actor.id,
                                   indicator=indicator, period=period)
            s.add(row)
        row.score, row.comment = score, (comment.strip() if comment else None)
        s.flush()
        return row.id


def _period(period: str) -> str:
    """A calendar period (vocab.period_kind); prevention classes have no cohorts to name."""
    period = (period or "").strip()
    if vocab.period_kind(period) not in ("half", "quarter", "month", "range"):
        raise ValidationError("prevention.review_period_form",
                              "the review period {period!r} is not a period: give a half "
                              "(2026-H2), a quarter (2026-Q3), a month (2026-10) or a date range "
                              "(2026-01-05~2026-06-30)", period=period)
    return period


@dataclass(frozen=True)
class PreventionReviewSummary:
    """Mean rating per programme and indicator, and the raters' agreement (the counseling
    programmes' ICC, `matrix.reviews.rater_agreement`)."""

    programmes: pd.DataFrame
    agreement: pd.DataFrame
    note: Message | str = ""


def prevention_review_summary(ctx: Context, *, period: str,
                              indicators: Sequence[str] = REVIEW_INDICATORS
                              ) -> PreventionReviewSummary:
    access.require(ctx, "prevention.review")
    ratings = pd.DataFrame(ctx.session.execute(
        select(PreventionProgramme.name, PreventionProgramme.version, PreventionReview.rater_id,
               PreventionReview.indicator, PreventionReview.score)
        .join(PreventionProgramme, PreventionProgramme.id == PreventionReview.programme_id)
        .where(PreventionReview.period == _period(period))).all(),
        columns=["name", "version", "rater", "indicator", "score"])
    ctx.session.rollback()
    ratings["programme"] = ratings["name"].astype(str) + " v" + ratings["version"].astype(str)
    ratings = ratings[["programme", "rater", "indicator", "score"]]
    if ratings.empty:
        return PreventionReviewSummary(reviews.programme_summary(ratings, indicators),
                                       pd.DataFrame(),
                                       Message("prevention.no_ratings_yet", "no ratings yet"))
    # Raters are committee members; the summary shows only how many rated, never who.
    ratings["rater"] = ratings["rater"].astype("category").cat.codes
    summary = reviews.programme_summary(ratings, indicators, REVIEW_SCALE)
    try:
        agreement, note = reviews.rater_agreement(ratings, indicators, REVIEW_SCALE), ""
    except ValidationError as exc:
        agreement, note = pd.DataFrame(), exc.message
    return PreventionReviewSummary(summary, agreement, note)


def record_recommendation(ctx: Context, *, programme_id: int, period: str, text: str,
                          audience: str | None = None, format: str | None = None) -> int:
    """What the committee asks for after reviewing a programme ("develop a puppet-show version
    for kindergartens"), with the audience and format it is about when it names them."""
    access.require(ctx, "prevention.review")
    text = (text or "").strip()
    if not 5 <= len(text) <= 1000:
        raise ValidationError("prevention.recommendation_text",
                              "write the recommendation in 5-1000 characters")
    check_note(text, field="recommendation")
    if audience is not None:
        _one_of(audience, vocab.AUDIENCES, "audience")
    if format is not None:
        _one_of(format, vocab.EDUCATION_FORMATS, "format")
    period = _period(period)
    with ctx.transaction() as s:
        if s.get(PreventionProgramme, programme_id) is None:
            raise _no_programme(programme_id)
        row = PreventionRecommendation(programme_id=programme_id, period=period, text=text,
                                       audience=audience, format=format,
                                       recorded_by=ctx.actor.id)
        s.add(row)
        s.flush()
        return row.id


def answer_recommendation(ctx: Context, *, recommendation_id: int, programme_id: int) -> None:
    """Link a recommendation to the programme version that answers it (a version tailored from
    the reviewed programme, or a later version of it)."""
    access.require(ctx, "prevention.manage")
    with ctx.transaction() as s:
        rec = s.get(PreventionRecommendation, recommendation_id)
        if rec is None:
            raise NotFound("prevention.no_recommendation", "No recommendation {recommendation_id}.",
                           recommendation_id=recommendation_id)
        answer = s.get(PreventionProgramme, programme_id)
        if answer is None:
            raise _no_programme(programme_id)
        reviewed = s.get(PreventionProgramme, rec.programme_id)
        if answer.id == reviewed.id or not (answer.tailored_from_id == reviewed.id
                                            or answer.name == reviewed.name
                                            and answer.version > reviewed.version):
            raise ValidationError("prevention.answer_not_derived",
                                  "{answer} neither was tailored from {reviewed} nor is a later "
                                  "version of it", answer=f"{answer.name} v{answer.version}",
                                  reviewed=f"{reviewed.name} v{reviewed.version}")
        rec.answered_by_id, rec.answered_at = answer.id, utcnow()


RECOMMENDATION_COLUMNS = ["recommendation_id", "period", "programme_id", "programme", "text",
                          "audience", "format", "answered_by_id", "answered_by"]


def list_recommendations(ctx: Context) -> pd.DataFrame:
    access.require(ctx, "prevention.review")
    progs = {p.id: f"{p.name} v{p.version}"
             for p in ctx.session.scalars(select(PreventionProgramme))}
    rows = ctx.session.scalars(select(PreventionRecommendation)
                               .order_by(PreventionRecommendation.id)).all()
    out = pd.DataFrame([{
        "recommendation_id": r.id, "period": r.period, "programme_id": r.programme_id,
        "programme": progs[r.programme_id], "text": r.text, "audience": r.audience,
        "format": r.format, "answered_by_id": r.answered_by_id,
        "answered_by": progs.get(r.answered_by_id)} for r in rows],
        columns=RECOMMENDATION_COLUMNS)
    ctx.session.rollback()
    return out
