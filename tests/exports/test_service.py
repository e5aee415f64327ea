"""Every kind of export through its use case: permission, suppression, one CSV writer, one manifest."""

from __future__ import annotations

import csv
import datetime as dt
import dataclasses
import hashlib
import io
import json

import pandas as pd
import pytest
from sqlalchemy import select, update

from db.context import SYSTEM, Actor, Runtime
from db.schema import Account, ExportManifest, Programme
from detection import service as detection
from errors import PermissionDenied, ValidationError
from exports import service as exports

FORMULA = '=HYPERLINK("x")'


def actor(rt, username: str) -> Actor:
    with rt.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == username)).one()
        return Actor(acc.id, acc.username, acc.role)


@pytest.fixture
def hostile(demo_rt):
    """The demo programme with a programme and a case whose names a spreadsheet would run."""
    with demo_rt.context(SYSTEM) as ctx, ctx.transaction() as s:
        first = s.scalars(select(Programme).order_by(Programme.id)).first()
        s.execute(update(Programme).where(Programme.id == first.id).values(name=FORMULA))
    with demo_rt.context(actor(demo_rt, "reviewer1")) as ctx:
        detection.import_hash_list_bytes(
            ctx, f"algorithm,hash,case\npdq,{'0f' * 32},{FORMULA}\n".encode(), new_cases=True)
    return demo_rt


def manifests(rt) -> list[ExportManifest]:
    with rt.sessions() as s:
        rows = s.scalars(select(ExportManifest).order_by(ExportManifest.id)).all()
        s.expunge_all()
        return rows


def cells(export: exports.Export) -> list[list[str]]:
    return list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))


KINDS = {
    "programme_outcomes": ("committee1", lambda c: exports.outcomes_table(
        c, by="programme", purpose="평가위원회 반기 회의")),
    "km_table": ("analyst1", lambda c: exports.km_table(
        c, by="programme", purpose="recidivism study")),
    "analysis_frame": ("analyst1", lambda c: exports.cohort_rows(
        c, purpose="recidivism study", filters={"programme": [FORMULA]})),
    "hash_list": ("reviewer1", lambda c: exports.hash_list(c, purpose="exchange with a platform")),
}


@pytest.mark.parametrize("infer_string", [False, True], ids=["object", "str"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_neutralises_a_formula_cell_and_leaves_one_manifest(hostile, kind, infer_string):
    username, make = KINDS[kind]
    with pd.option_context("future.infer_string", infer_string):
        with hostile.context(actor(hostile, username)) as ctx:
            export = make(ctx)
    table = cells(export)
    flat = [v for row in table for v in row]
    assert "'" + FORMULA in flat and FORMULA not in flat
    assert export.kind == kind and export.rows == len(table) - 1
    (m,) = manifests(hostile)
    assert (m.id, m.kind, m.rows, m.sha256) == (
        export.manifest_id, kind, export.rows, hashlib.sha256(export.data).hexdigest())
    assert m.account_id == actor(hostile, username).id and len(m.purpose) >= 5


def test_the_report_escapes_the_same_cell_as_html_and_is_recorded(hostile):
    with hostile.context(actor(hostile, "committee1")) as ctx:
        export = exports.outcomes_report(ctx, by="programme", purpose="평가위원회 보고서 인쇄")
    page = export.data.decode("utf-8")
    assert "=HYPERLINK(&quot;x&quot;)" in page and FORMULA not in page
    (m,) = manifests(hostile)
    assert (m.kind, m.suppression) == ("outcomes_report_html", {"threshold": 10,
                                                                "complementary": True})


@pytest.mark.parametrize("purpose", ["", "   ", "ok", "1234567", "!!!!!!"])
def test_one_purpose_rule_for_every_kind(demo_rt, purpose):
    for kind, (username, _) in KINDS.items():
        call = {"programme_outcomes": lambda c: exports.outcomes_table(c, purpose=purpose),
                "km_table": lambda c: exports.km_table(c, purpose=purpose),
                "analysis_frame": lambda c: exports.cohort_rows(c, purpose=purpose),
                "hash_list": lambda c: exports.hash_list(c, purpose=purpose)}[kind]
        with demo_rt.context(actor(demo_rt, username)) as ctx, pytest.raises(
                ValidationError, match="purpose"):
            call(ctx)
    with demo_rt.context(actor(demo_rt, "committee1")) as ctx, pytest.raises(
            ValidationError, match="purpose"):
        exports.outcomes_report(ctx, purpose=purpose)
    # Matrix change and reoffending (tests/models/test_cli.py exports it on a larger programme).
    with demo_rt.context(actor(demo_rt, "analyst1")) as ctx, pytest.raises(
            ValidationError, match="purpose"):
        exports.change_cox_table(ctx, purpose=purpose)
    assert manifests(demo_rt) == []


def test_each_kind_checks_its_permission_itself(demo_rt):
    calls = [lambda c: exports.outcomes_table(c, purpose="a stated purpose"),
             lambda c: exports.outcomes_report(c, purpose="a stated purpose"),
             lambda c: exports.km_table(c, purpose="a stated purpose"),
             lambda c: exports.cohort_rows(c, purpose="a stated purpose"),
             lambda c: exports.hash_list(c, purpose="a stated purpose")]
    allowed = {"counselor1": set(), "committee1": {0, 1}, "analyst1": {0, 1, 2, 3},
               "reviewer1": {4}, "admin": set()}
    for username, ok in allowed.items():
        who = actor(demo_rt, username)
        for i, call in enumerate(calls):
            with demo_rt.context(who) as ctx:
                if i in ok:
                    call(ctx)
                else:
                    with pytest.raises(PermissionDenied):
                        call(ctx)
    assert len(manifests(demo_rt)) == sum(len(v) for v in allowed.values())


def test_the_threshold_is_the_deployments_setting(demo_rt):
    five = Runtime(dataclasses.replace(demo_rt.settings, suppression_threshold=5))
    try:
        with five.context(actor(five, "committee1")) as ctx:
            shown = exports.outcomes_table(ctx, by="cohort", purpose="meeting of the committee",
                                           fmt="json")
        with demo_rt.context(actor(demo_rt, "committee1")) as ctx:
            ten = exports.outcomes_table(ctx, by="cohort", purpose="meeting of the committee",
                                         fmt="json")
    finally:
        five.dispose()
    assert "<10" in {r["n"] for r in json.loads(ten.data)}  # 40 people in many cohorts
    assert [m.suppression["threshold"] for m in manifests(demo_rt)] == [5, 10]
    assert all(r["n"] in ("<5", "x", 0) or r["n"] >= 5 for r in json.loads(shown.data))
    assert all(r["n"] in ("<10", "x", 0) or r["n"] >= 10 for r in json.loads(ten.data))


def test_the_km_tail_under_the_threshold_is_hidden_with_its_estimate():
    table = pd.DataFrame({"time": [0.0, 10, 20, 30], "at_risk": [40, 12, 9, 1],
                          "events": [0, 1, 1, 1], "censored": [0, 2, 3, 0],
                          "survival": [1.0, 0.9, 0.8, 0.0], "ci_lower": [1.0, 0.7, 0.6, None],
                          "ci_upper": [1.0, 0.97, 0.9, None]})
    out = exports.suppress_km(table, 10)
    assert out["at_risk"].tolist() == [40, 12, "<10", "<10"]
    assert out.loc[2:, ["events", "censored", "survival", "ci_lower"]].isna().all().all()
    assert out.loc[1, "survival"] == 0.9 and out["time"].tolist() == [0.0, 10, 20, 30]


def test_pseudonymised_rows_leave_with_ages_in_years_and_dates_to_the_month(demo_rt):
    with demo_rt.context(actor(demo_rt, "analyst1")) as ctx:
        export = exports.cohort_rows(ctx, purpose="recidivism study")
    rows = pd.read_csv(io.BytesIO(export.data), encoding="utf-8-sig", dtype=str)
    assert rows["age_at_offence"].str.fullmatch(r"\d+").all()
    date_cols = [c for c in rows.columns if c in ("follow_up_start", "follow_up_end", "enrolled_on")]
    assert date_cols and all(rows[c].dropna().str.fullmatch(r"\d{4}-\d{2}").all()
                             for c in date_cols)
    assert "name" not in rows.columns and rows["study_code"].notna().all()


def test_a_file_is_written_whole_and_for_its_owner_only(demo_rt, tmp_path):
    with demo_rt.context(actor(demo_rt, "reviewer1")) as ctx:
        export = exports.hash_list(ctx, purpose="exchange with a platform", delivery="file")
    out = exports.write_file(export, tmp_path / "lists" / "hashes.csv")
    assert out.read_bytes() == export.data and (out.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in out.parent.iterdir()] == ["hashes.csv"]


@pytest.mark.parametrize("infer_string", [False, True], ids=["pandas2", "pandas3_strings"])
def test_coarsened_gives_whole_years_and_months_for_every_kind_of_date(infer_string):
    # An exact age (16.41...) with an exact enrolment day comes near a birth date: both go coarse,
    # whatever the export's purpose; durations (differences, not dates) stay in days.
    with pd.option_context("future.infer_string", infer_string):
        frame = pd.DataFrame({
            "study_code": ["S-1", "S-2"],
            "age_at_offence": [16.414213, 13.999],
            "age_at_referral": [17.2, None],
            "enrolled_on": [dt.date(2024, 3, 15), None],
            "follow_up_end": pd.to_datetime(["2025-01-31", "2025-02-01"]),
            "duration": [400.0, 20.0],
        })
        out = exports.coarsened(frame)
    assert out["age_at_offence"].tolist() == [16, 13]
    assert out["age_at_referral"].iloc[0] == 17 and pd.isna(out["age_at_referral"].iloc[1])
    assert out["enrolled_on"].iloc[0] == "2024-03" and pd.isna(out["enrolled_on"].iloc[1])
    assert out["follow_up_end"].tolist() == ["2025-01", "2025-02"]
    assert out["duration"].tolist() == [400.0, 20.0]
    assert frame["age_at_offence"].iloc[0] == 16.414213  # the caller's frame is left alone


def test_readable_outcomes_round_beside_exact_and_keep_suppressed_cells():
    table = pd.DataFrame({
        "programme": ["A", "B", "Total"], "domain": ["engagement"] * 3,
        "from_step": ["planning"] * 3, "to_step": ["conclusion"] * 3, "n": [24, "<10", "x"],
        "mean_diff": [0.123456, None, None], "p": [0.0004, None, None],
        "share_improved": [0.41667, None, None], "note": ["", "", ""]}, dtype=object)
    out = exports.readable_outcomes(table, by="programme", headers={"mean_diff": "평균 변화"},
                                    values={"Total": "전체", "engagement": "참여도"},
                                    rounded_suffix=" (반올림)")
    assert list(out.columns) == ["programme", "domain", "from_step", "to_step", "n", "평균 변화",
                                 "평균 변화 (반올림)", "p", "p (반올림)", "share_improved",
                                 "share_improved (반올림)", "note"]
    assert out["평균 변화"].iloc[0] == 0.123456 and out["평균 변화 (반올림)"].tolist() == ["0.12", "", ""]
    assert out["p (반올림)"].iloc[0] == "<0.001" and out["share_improved (반올림)"].iloc[0] == "41.7%"
    assert out["n"].tolist() == [24, "<10", "x"]  # suppressed counts stay as they were
    assert out["programme"].tolist() == ["A", "B", "전체"] and set(out["domain"]) == {"참여도"}
