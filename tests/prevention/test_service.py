"""Prevention use cases on the store: programmes, deliveries (own only), survey imports all-or-nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.schema import PreventionSurvey
from errors import Conflict, NotFound, PermissionDenied, ValidationError
from prevention import service
from prevention.instruments import get_survey_instrument

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def world(rt, make_account):
    admin, member = make_account("admin"), make_account("committee", "han")
    kim, lee = make_account("educator", "kim"), make_account("educator", "lee")
    with rt.context(member, today=TODAY) as ctx:
        lecture = service.add_prevention_programme(
            ctx, name="디지털 성범죄 예방 강의", audiences=["kindergarten", "elementary_upper"],
            format="lecture")
        puppet = service.add_prevention_programme(
            ctx, name="인형극 '내 몸은 소중해'", audiences=["kindergarten"], format="puppet_show",
            tailored_from_id=lecture)
    return {"rt": rt, "admin": admin, "member": member, "kim": kim, "lee": lee,
            "lecture": lecture, "puppet": puppet}


def deliver(w, who="kim", audience="elementary_upper", programme="lecture", present=24):
    with w["rt"].context(w[who], today=TODAY) as ctx:
        return service.record_delivery(ctx, programme_id=w[programme], delivered_on=TODAY,
                                       audience=audience, institution_kind="elementary",
                                       district="mapo", present=present)


def survey_csv(instrument_id="PE-10", rows=(("pre", "a1", "", 2), ("post", "a1", "5", 4)),
               extra_header="") -> bytes:
    items = get_survey_instrument(instrument_id).item_ids
    lines = ["time,pair_code,satisfaction," + ",".join(items) + extra_header]
    for time, code, sat, value in rows:
        lines.append(f"{time},{code},{sat}," + ",".join(str(value) for _ in items))
    return ("\n".join(lines) + "\n").encode()


def sheets_in_store(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(PreventionSurvey))


def test_programmes_keep_their_audiences_format_and_origin(world):
    with world["rt"].context(world["kim"], today=TODAY) as ctx:
        table = service.list_prevention_programmes(ctx)
    puppet = table.set_index("programme_id").loc[world["puppet"]]
    assert puppet["audiences"] == ["kindergarten"] and puppet["format"] == "puppet_show"
    assert puppet["tailored_from"] == "디지털 성범죄 예방 강의 v1"
    with world["rt"].context(world["member"], today=TODAY) as ctx:
        with pytest.raises(Conflict):
            service.add_prevention_programme(ctx, name="디지털 성범죄 예방 강의",
                                             audiences=["middle"], format="lecture")
        with pytest.raises(ValidationError, match="audience 'adult'"):
            service.add_prevention_programme(ctx, name="x", audiences=["adult"], format="lecture")
    with world["rt"].context(world["kim"], today=TODAY) as ctx, pytest.raises(PermissionDenied):
        service.add_prevention_programme(ctx, name="y", audiences=["middle"], format="lecture")


def test_a_delivery_is_to_an_audience_its_programme_is_written_for(world):
    with pytest.raises(ValidationError, match="written for kindergarten, not middle"):
        deliver(world, audience="middle", programme="puppet")
    with pytest.raises(ValidationError, match="1..500"):
        deliver(world, present=0)
    with world["rt"].context(world["member"], today=TODAY) as ctx, pytest.raises(PermissionDenied):
        service.record_delivery(ctx, programme_id=world["lecture"], delivered_on=TODAY,
                                audience="elementary_upper", institution_kind="elementary",
                                district="mapo", present=20)


def test_an_educator_sees_only_their_own_deliveries_and_another_is_not_found(world):
    mine, theirs = deliver(world, "kim"), deliver(world, "lee")
    with world["rt"].context(world["kim"], today=TODAY) as ctx:
        assert service.my_deliveries(ctx)["delivery_id"].tolist() == [mine]
        with pytest.raises(NotFound) as other:
            service.import_surveys(ctx, delivery_id=theirs, data=survey_csv())
        with pytest.raises(NotFound) as missing:
            service.import_surveys(ctx, delivery_id=10**6, data=survey_csv())
    assert str(other.value).replace(str(theirs), "#") == str(missing.value).replace(str(10**6), "#")


def test_a_survey_file_is_imported_whole_and_summarised_for_its_educator(world):
    d = deliver(world)
    rows = [("pre", f"c{i}", "", 2) for i in range(5)] + [("post", f"c{i}", "4", 3) for i in range(5)]
    with world["rt"].context(world["kim"], today=TODAY) as ctx:
        result = service.import_surveys(ctx, delivery_id=d, data=survey_csv(rows=rows))
        summary = service.my_deliveries(ctx).iloc[0]
    assert (result.n_pre, result.n_post, result.paired, result.instrument_id) == (5, 5, True, "PE-10")
    # PE-10 is 1..4 with three reverse items: all 2s is 2 on every item (reverse 2 -> 3 on three),
    # so the POMP mean is 100 * ((7*2 + 3*3)/10 - 1) / 3.
    assert summary["mean_pre"] == pytest.approx(100 * ((7 * 2 + 3 * 3) / 10 - 1) / 3)
    assert summary["mean_post"] == pytest.approx(100 * ((7 * 3 + 3 * 2) / 10 - 1) / 3)
    assert summary["satisfaction"] == 4.0 and sheets_in_store(world["rt"]) == 10
    with world["rt"].context(world["kim"], today=TODAY) as ctx, pytest.raises(Conflict):
        service.import_surveys(ctx, delivery_id=d, data=survey_csv(rows=rows))
    assert sheets_in_store(world["rt"]) == 10


def test_a_bad_survey_file_is_refused_with_line_and_column_and_nothing_is_saved(world):
    d = deliver(world)
    rows = [("pre", "c1", "", 2), ("post", "c1", "7", 3), ("later", "c2", "", 9)]
    with world["rt"].context(world["kim"], today=TODAY) as ctx:
        with pytest.raises(ValidationError) as refused:
            service.import_surveys(ctx, delivery_id=d, data=survey_csv(rows=rows))
    text = str(refused.value)
    assert "nothing was saved" in text
    assert "line 3, column 3 (satisfaction): must be a whole number 1..5" in text
    assert "line 4, column 1 (time): must be pre or post" in text
    assert "line 4, column 4 (PE-01): must be a whole number 1..4 or blank, got '9'" in text
    assert sheets_in_store(world["rt"]) == 0


def test_more_sheets_than_children_present_are_refused(world):
    d = deliver(world, present=2)
    rows = [("pre", f"c{i}", "", 2) for i in range(3)]
    with world["rt"].context(world["kim"], today=TODAY) as ctx, pytest.raises(
            ValidationError, match="3 sheets for one time but 2 children"):
        service.import_surveys(ctx, delivery_id=d, data=survey_csv(rows=rows))
    assert sheets_in_store(world["rt"]) == 0


def test_a_kindergarten_delivery_takes_the_educators_group_checklist(world):
    d = deliver(world, audience="kindergarten", programme="puppet")
    items = get_survey_instrument("PK-6").item_ids
    data = ("time," + ",".join(items) + "\n사전," + ",".join("2" for _ in items)
            + "\n사후," + ",".join("4" for _ in items) + "\n").encode()
    with world["rt"].context(world["kim"], today=TODAY) as ctx:
        result = service.import_surveys(ctx, delivery_id=d, data=data)
        row = service.my_deliveries(ctx).iloc[0]
    assert (result.instrument_id, result.n_pre, result.n_post) == ("PK-6", 1, 1)
    assert (row["mean_pre"], row["mean_post"]) == (pytest.approx(100 / 3), 100.0)
    with world["rt"].context(world["kim"], today=TODAY) as ctx, pytest.raises(
            ValidationError, match="PE-10 is for elementary_upper, not for kindergarten"):
        service.import_surveys(ctx, delivery_id=d, data=survey_csv(), instrument_id="PE-10")


def test_every_free_text_of_prevention_is_guarded_against_victims_identities(world):
    identifying = "피해자 박서연 학생 관련 긴급 확인이 필요함"  # invented: no such person
    with world["rt"].context(world["member"], today=TODAY) as ctx:
        with pytest.raises(ValidationError):
            service.record_recommendation(ctx, programme_id=world["lecture"], period="2026-H1",
                                          text=identifying)
        with pytest.raises(ValidationError):
            service.record_prevention_review(ctx, programme_id=world["lecture"],
                                             indicator="victim_perspective", score=3,
                                             period="2026-H1", comment=identifying)
        with pytest.raises(ValidationError):
            service.add_prevention_programme(ctx, name="z", audiences=["middle"], format="lecture",
                                             description=identifying)
        assert service.list_recommendations(ctx).empty


def test_the_committees_view_of_a_store_without_surveys_is_empty_and_says_why(world):
    deliver(world)  # a class without its sheets yet
    with world["rt"].context(world["member"], today=TODAY) as ctx:
        view = service.prevention_effects(ctx)
    assert view.table.empty and view.satisfaction.empty and view.model is None
    assert view.note.code == "prevention.model_needs_data"
