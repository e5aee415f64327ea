"""`dscr models ...` and `dscr recidivism km` on a synthetic programme, run in-process."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

import cli
from db.schema import ExportManifest, FollowUp
from demo import synthetic
from tests.conftest import point_cli_at

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def env(demo250, monkeypatch):
    """The 250-participant programme with the `dscr` command pointed at it."""
    point_cli_at(demo250, monkeypatch)
    return demo250


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_analyst_fits_lists_and_reads_a_model(env, capsys, tmp_path):
    card_path = tmp_path / "card.json"
    code, out, err = run(capsys, "--user", "analyst1", "models", "fit", "--horizon", "730",
                         "--model", "logistic", "--json", str(card_path), "--repeats", "2",
                         "--bootstrap", "30")
    assert code == 0, err
    assert out.startswith("model 1 (logistic, 730 days) fitted on 220 participants")
    card = json.loads(card_path.read_text())
    assert card["model_name"] == "logistic" and card["horizon"] == 730
    assert len(card["data_fingerprint"]) == 64 and card["data_fingerprint"][:12] in out
    assert set(card["metrics"]["auc"]) == {"estimate", "ci_lower", "ci_upper"}

    code, out, _ = run(capsys, "--user", "analyst1", "models", "list")
    assert code == 0
    header, row = out.strip().splitlines()
    assert "AUC (95% CI)" in header
    assert row.split()[:7] == ["1", "logistic", "730", "conclusion", "draft", "220",
                               str(card["events"])]

    code, out, _ = run(capsys, "--user", "analyst1", "models", "card", "1")
    assert code == 0 and json.loads(out)["data_fingerprint"] == card["data_fingerprint"]
    code, _, err = run(capsys, "--user", "analyst1", "models", "card", "5")
    assert code == 2 and "No risk model 5" in err

    code, _, err = run(capsys, "--user", "counselor1", "models", "fit")
    assert code == 2 and "'counselor' may not fit and validate risk models" in err
    code, _, err = run(capsys, "--user", "analyst1", "models", "fit", "--model", "forest")
    assert code == 2 and "no risk model named 'forest'" in err


def test_kaplan_meier_by_programme_as_csv_and_json(env, capsys, monkeypatch):
    code, out, err = run(capsys, "--user", "analyst1", "recidivism", "km", "--by", "programme",
                         "--format", "csv", "--purpose", "recidivism study 2026")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), dtype={"at_risk": str})
    assert list(table.columns) == ["group", "time", "at_risk", "events", "censored", "survival",
                                   "ci_lower", "ci_upper"]
    prog = synthetic.generate(250, 3)
    followed = prog.follow_ups.merge(prog.participants[["code", "programme"]], on="code")
    assert set(table.group) == set(followed.programme)
    # Number at risk at time 0 is each programme's number followed; events add up to the truth.
    start = table[table.time == 0].set_index("group").at_risk.astype(int)
    assert start.to_dict() == followed.programme.value_counts().to_dict()
    # The thin tail leaves suppressed: under 10 at risk, the count shows as "<10" and the step,
    # its events and its interval are empty; every other row is as computed.
    thin = table.at_risk == "<10"
    assert thin.any() and table.loc[thin, ["events", "survival", "ci_lower"]].isna().all().all()
    assert (table.loc[~thin, "at_risk"].astype(int) >= 10).all()
    assert table.loc[~thin, "events"].sum() <= len(prog.events)

    code, out, _ = run(capsys, "--user", "analyst1", "recidivism", "km", "--by", "programme",
                       "--format", "json", "--purpose", "recidivism study 2026")
    data = json.loads(out)
    assert code == 0 and data["by"] == "programme" and set(data["groups"]) == set(table.group)
    assert data["logrank"]["df"] == 1 and 0 <= data["logrank"]["p"] <= 1
    assert len(data["table"]) == len(table)

    code, _, err = run(capsys, "--user", "analyst1", "recidivism", "km", "--by", "name",
                       "--purpose", "recidivism study 2026")
    assert code == 2 and "cannot group by 'name'" in err
    code, _, err = run(capsys, "--user", "committee1", "recidivism", "km",
                       "--purpose", "recidivism study 2026")
    assert code == 2 and "may not read pseudonymised follow-up" in err
    with env.sessions() as s:
        kinds = [(m.kind, m.filters["format"]) for m in s.scalars(select(ExportManifest))]
    assert kinds == [("km_table", "csv"), ("km_table", "json")]
    with env.sessions() as s:
        assert s.query(FollowUp).count() == len(prog.follow_ups)


def test_a_model_is_approved_from_the_command_by_someone_else_each_warning_acknowledged(env, capsys):
    code, out, err = run(capsys, "--user", "analyst1", "models", "fit", "--horizon", "1095",
                         "--features", "age_at_referral,prior_offences", "--landmark", "planning",
                         "--repeats", "2", "--bootstrap", "30")
    assert code == 0, err
    assert "is a draft" in out
    code, out, _ = run(capsys, "--user", "committee1", "models", "warnings", "1")
    keys = [line.split("\t")[0] for line in out.strip().splitlines()]
    assert code == 0 and keys and keys[0].startswith("1:models.")
    code, _, err = run(capsys, "--user", "analyst1", "models", "approve", "1", "--reason",
                       "my own model", *[a for k in keys for a in ("--ack", k)])
    assert code == 2 and "may not approve a risk model" in err
    code, _, err = run(capsys, "--user", "committee1", "models", "approve", "1", "--reason",
                       "Card read at the meeting", "--ack", keys[0])
    assert code == 2 and "not acknowledged" in err and keys[-1] in err
    code, out, err = run(capsys, "--user", "committee1", "models", "approve", "1", "--reason",
                         "Card read at the meeting", *[a for k in keys for a in ("--ack", k)])
    assert code == 0, err
    assert out.startswith("model 1 approved by committee1 at ") and "(planning landmark)" in out
    code, out, _ = run(capsys, "--user", "analyst1", "models", "list")
    assert "approved" in out and "approved by committee1" in out
    code, out, err = run(capsys, "--user", "admin", "models", "withdraw", "1", "--reason",
                         "Replaced by a newer model")
    assert code == 0 and out.startswith("model 1 withdrawn by admin"), err


def test_change_cox_prints_the_table_the_page_shows_and_records_the_export(env, capsys):
    from db.context import Actor
    from db.schema import Account
    from models import service as ms

    code, out, err = run(capsys, "--user", "analyst1", "recidivism", "change-cox", "--format",
                         "csv", "--purpose", "programme evaluation 2026")
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    with env.sessions() as s:
        acc = s.scalars(select(Account).where(Account.username == "analyst1")).one()
    with env.context(Actor(acc.id, acc.username, acc.role)) as ctx:
        expected = ms.change_on_recidivism(ctx).table()
    assert list(table.covariate) == list(expected.covariate)
    assert list(table.columns) == list(expected.columns)
    assert table.hazard_ratio.to_numpy() == pytest.approx(expected.hazard_ratio.to_numpy(),
                                                          rel=1e-9)
    assert "improvement_digital_sex_crime_understanding" in set(table.covariate)
    code, out, err = run(capsys, "--user", "analyst1", "recidivism", "change-cox", "--format",
                         "json", "--purpose", "programme evaluation 2026")
    assert code == 0, err
    body = json.loads(out)
    assert body["caveat"].startswith("Observational")
    assert {"n_ids", "n_events", "events_per_covariate", "ph_global", "warnings"} <= set(body)
    assert [r["covariate"] for r in body["table"]] == list(expected.covariate)
    with env.sessions() as s:
        kinds = s.scalars(select(ExportManifest.kind)).all()
    assert kinds.count("change_cox_table") == 2
    code, _, err = run(capsys, "--user", "counselor1", "recidivism", "change-cox", "--purpose",
                       "programme evaluation 2026")
    assert code == 2 and "may not" in err
