"""The admin's audit log: filtered by Korean action names, account, Seoul's days and study code,
shown with Korean columns and readable values; the access review by study code; open sessions
that a closed browser left behind drop off the list once they idle out."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import vocab
from accounts import service as accounts
from casework import service as casework
from dashboard import dates
from dashboard.i18n import TEXT
from db.context import local_today
from db.schema import AuditLog, LoginSession, Participant, utcnow
from errors import NotFound, ValidationError

ROOT = Path(__file__).resolve().parents[2]


def test_every_audit_action_in_the_code_is_in_the_vocabulary_with_a_korean_name():
    used = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        used |= set(re.findall(r'audit\.record\(\s*\w+(?:\.\w+)?,\s*"([a-z_]+)"\s*[,)]',
                               path.read_text()))
    # Written by the store itself, or named through a constant or a kind (api_hashes, api_image).
    used |= {"insert", "update", "delete", accounts.ACCESS_REVIEWED, "api_hashes", "api_image"}
    assert used and used <= set(vocab.AUDIT_ACTIONS), used - set(vocab.AUDIT_ACTIONS)
    for code in vocab.AUDIT_ACTIONS:
        assert "au_act_" + code in TEXT, code


def test_every_table_of_the_schema_has_a_name_in_the_audit_log():
    from db.schema import Base

    missing = [name for name in Base.metadata.tables if "au_tbl_" + name not in TEXT]
    assert not missing, missing
    assert len(Base.metadata.tables) > 30


def test_the_audit_log_filters_by_action_account_day_and_study_code(demo):
    with demo.sessions() as s:
        pid, code = s.execute(select(Participant.id, Participant.study_code)).first()
    with demo.context_for("admin", task="test: reidentify") as ctx:
        casework.reidentify(ctx, code, reason="법원 요청에 따른 신원 확인 (시험)")
    today = local_today()
    with demo.context_for("admin") as ctx:
        mine = accounts.audit_entries(ctx, actions=["reidentify"], actor="admin")
        assert [(e.action, e.study_code, e.subject_participant_id) for e in mine][:1] == [
            ("reidentify", code, pid)]
        about = accounts.audit_entries(ctx, study_code=code, limit=1000)
        assert about and all(e.subject_participant_id == pid for e in about)
        assert accounts.audit_entries(ctx, actions=["reidentify"], start=today, end=today)
        yesterday = today - dt.timedelta(days=1)
        assert not accounts.audit_entries(ctx, actions=["reidentify"], start=yesterday,
                                          end=yesterday)
        with pytest.raises(ValidationError, match="'로그인'|no audit action"):
            accounts.audit_entries(ctx, actions=["로그인"])
        with pytest.raises(NotFound, match="P-NOPE"):
            accounts.audit_entries(ctx, study_code="P-NOPE")
        with pytest.raises(ValidationError, match="after it ends"):
            accounts.audit_entries(ctx, start=today, end=yesterday)


def test_a_seoul_day_runs_from_midnight_in_seoul(demo):
    # 2026-10-13 15:30 UTC is 00:30 on the 14th in Seoul: in the 14th's log, not the 13th's.
    with demo.sessions() as s:
        row = s.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        stored_at = row.at
    seoul_day = (stored_at + dt.timedelta(hours=9)).date()
    with demo.context_for("admin") as ctx:
        ids = {e.id for e in accounts.audit_entries(ctx, start=seoul_day, end=seoul_day, limit=5000)}
        assert row.id in ids
        before = seoul_day - dt.timedelta(days=1)
        if (stored_at + dt.timedelta(hours=9)).date() != stored_at.date():
            # stored on the UTC day before: a UTC-day filter would put it on `before`
            ids_before = {e.id for e in accounts.audit_entries(ctx, start=before, end=before, limit=5000)}
            assert row.id not in ids_before


def test_the_admin_filters_the_log_by_korean_action_names(demo, signed_in):
    accounts.authenticate(demo, "admin", "admin-password-1")  # a log-in today
    at = signed_in("admin", "pages/audit.py")
    assert not at.exception
    picker = at.multiselect(key="f_actions")
    assert "로그인" in picker.options and "login" not in picker.options
    picker.select("login").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "대상 기록" in d.value.columns)
    assert set(table["활동"]) == {"로그인"} and "admin" in set(table["계정"])
    assert {"시각", "계정", "활동", "대상 기록", "연구 코드", TEXT["au_fields"]["ko"],
            TEXT["au_detail"]["ko"]} <= set(table.columns)
    assert not table.drop(columns="시각").astype(str).isin(["None", "nan", "NaT"]).any().any()
    # Times that sort as times, in Korea's time, shown the Korean way: "2026. 12. 2. 14:05".
    assert pd.api.types.is_datetime64_any_dtype(table["시각"]) and table["시각"].notna().all()
    shown = next(d for d in at.dataframe if "대상 기록" in d.value.columns)
    assert json.loads(shown.proto.columns)["시각"]["type_config"]["format"] == "YYYY. M. D. HH:mm"
    newest = table["시각"].max().to_pydatetime()
    assert abs(newest - dates.local(utcnow()).replace(tzinfo=None)) < dt.timedelta(minutes=5)
    at.text_input(key="f_code").input("P-NOPE").run()
    assert [e.value for e in at.error] and "P-NOPE" in at.error[0].value


def test_the_access_review_names_participants_by_study_code(demo, signed_in):
    with demo.sessions() as s:
        code = s.scalars(select(Participant.study_code)).first()
    with demo.context_for("admin", task="test") as ctx:
        casework.reidentify(ctx, code, reason="법원 요청에 따른 신원 확인 (시험)")
    at = signed_in("admin", "pages/audit.py")
    assert not [d for d in at.dataframe if "보관된 사유 번호" in d.value.columns]  # drawn when opened
    at.session_state["au_tabs"] = TEXT["access_review"]["ko"]
    at.run()
    events = next(d.value for d in at.dataframe if "보관된 사유 번호" in d.value.columns
                  and "활동" in d.value.columns)
    row = events[events["활동"] == "재식별"]
    assert row["연구 코드"].tolist() == [code] and row["보관된 사유 번호"].str.startswith("#").all()
    assert "subject_participant_id" not in events.columns and "participant_id" not in events.columns


def test_a_session_left_by_a_closed_browser_is_not_listed_once_it_idles_out(rt, make_account):
    admin, user = make_account("admin"), make_account("analyst")
    accounts.start_login_session(rt, user)
    accounts.start_login_session(rt, user, now=utcnow() - accounts.IDLE_TIMEOUT
                                 - dt.timedelta(minutes=1))  # its browser was closed
    with rt.context(admin) as ctx:
        assert len(accounts.open_login_sessions(ctx)) == 1
    with rt.sessions() as s:
        assert s.query(LoginSession).filter(LoginSession.ended_at.is_(None)).count() == 2
