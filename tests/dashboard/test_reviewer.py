"""The detection reviewer's pages (registry, scans, review queue) through AppTest on a demo database.

Test images come only from skimage.data and scikit-learn's sample images.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pytest
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_images
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from dashboard.apptest import COOKIE_KEY as BROWSER_COOKIE
from dashboard.navigation import visible_pages
from db.context import SYSTEM
from accounts import service as accounts
from db.schema import ExportManifest, HashEntry
from detection import service
from exports import service as exports
from errors import PermissionDenied
from tests.dashboard.helpers import actor

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ADD = "FormSubmitter:rv_add_form-해시 계산 후 등록"
IMPORT = "FormSubmitter:rv_import_form-가져오기"
SCAN = "FormSubmitter:rv_scan_folder_form-검사 시작"
APP_DIR = Path(__file__).resolve().parents[2] / "dashboard"
PAGES = ("pages/registry.py", "pages/scans.py", "pages/review.py")


@cache
def photo(name: str) -> Image.Image:
    if name == "china":
        img = Image.fromarray(load_sample_images().images[0])
    else:
        img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    img.thumbnail((400, 400))
    return img


def jpeg(name: str, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    photo(name).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def table_with(at, column: str):
    """The first table on the page with this column (AppTest does not expose a table's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def hash_entries(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(HashEntry))


def registered_and_scanned(rt, tmp_path):
    """The astronaut photo in the registry under CASE-RV; a folder with a re-encoded copy and a
    distractor, scanned: one pending flag."""
    reviewer = actor(rt, "reviewer1")
    with rt.context(reviewer) as ctx:
        service.add_uploads_to_registry(ctx, case_ref="CASE-RV", new_case=True,
                                        uploads=[("a.jpg", jpeg("astronaut", 95))])
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "astronaut_q35.jpg").write_bytes(jpeg("astronaut", 35))
    (folder / "china.jpg").write_bytes(jpeg("china"))
    return folder


def test_each_page_renders_for_the_reviewer_in_both_languages_and_shows_no_image(demo, signed_in):
    names = {key for _path, key in visible_pages("reviewer")}
    assert {"rv_registry", "rv_scans", "rv_review"} <= names
    for role in ("counselor", "committee", "analyst", "admin"):
        assert not names & {key for _path, key in visible_pages(role)} - {"home"}
    # Both languages, errors and Korean text are checked on every page in test_every_page.py.
    for page in PAGES:
        at = signed_in("reviewer1", page)
        assert not at.exception, (page, at.exception)
        assert not at.get("imgs")


def test_registry_counts_render_as_a_table_and_a_chart(demo, signed_in):
    at = signed_in("reviewer1", "pages/registry.py")
    with demo.context(actor(demo, "reviewer1")) as ctx:
        summary = service.registry_summary(ctx)
    assert len(summary) > 0
    table = table_with(at, "알고리즘")
    assert len(table) == len(summary)
    assert list(table.columns) == ["사례 번호", "알고리즘", "등록 해시 수"]
    assert table["등록 해시 수"].sum() == summary["entries"].sum() == hash_entries(demo)
    first = summary["case"].iloc[0]
    at.text_input(key="rv_case_filter").input(first.lower()).run()
    assert set(table_with(at, "알고리즘")["사례 번호"]) == {first}


def test_the_registry_chart_shows_its_growth_by_month_and_source(demo, signed_in):
    """Not one bar per case (each of height one): entries added per Seoul month, stacked by how
    they came, every month from the first to the last, and the bars add up to the registry."""
    import json

    at = signed_in("reviewer1", "pages/registry.py")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = spec["data"]
    assert [b["name"] for b in bars] == ["파일을 올려 해시 계산", "해시 목록 가져오기"]
    assert sum(sum(b["y"]) for b in bars) == hash_entries(demo)
    months = bars[0]["x"]
    assert len(months) >= 3 and all(m.endswith("월") and "년" in m for m in months)  # the demo spans months
    assert spec["layout"]["barmode"] == "stack" and max(bars[1]["y"]) >= 1  # the demo's are imported
    with demo.context(actor(demo, "reviewer1")) as ctx:
        growth = service.registry_growth(ctx)
    first, last = growth["month"].min(), growth["month"].max()
    assert len(months) == (last.year - first.year) * 12 + last.month - first.month + 1


def test_an_entry_added_just_after_midnight_in_seoul_counts_in_seouls_month(demo):
    import datetime as dt

    with demo.context(SYSTEM, task="test set-up") as ctx, ctx.transaction() as s:
        entry = s.scalars(select(HashEntry).order_by(HashEntry.id)).first()
        entry.added_at = dt.datetime(2026, 10, 31, 15, 30)  # 2026-11-01 00:30 in Seoul
        others = s.scalars(select(HashEntry).where(HashEntry.id != entry.id)).all()
        for other in others:
            other.added_at = dt.datetime(2026, 9, 10, 1, 0)
    with demo.context(actor(demo, "reviewer1")) as ctx:
        growth = service.registry_growth(ctx)
    totals = growth.groupby("month")["entries"].sum()
    assert list(totals.index.strftime("%Y-%m")) == ["2026-09", "2026-10", "2026-11"]
    assert list(totals) == [len(others), 0, 1]  # October is shown, as an empty month


def test_an_upload_adds_entries_and_an_unknown_case_is_explained_in_place(demo, signed_in):
    at = signed_in("reviewer1", "pages/registry.py")
    before = hash_entries(demo)
    at.text_input(key="rv_add_case").input("CASE-UP-9")
    at.file_uploader(key="rv_add_files_0").set_value([("coffee.jpg", jpeg("coffee"), "image/jpeg")])
    at.button(key=ADD).click().run()
    assert any("사례 'CASE-UP-9'이(가) 없습니다" in e.value for e in at.error)
    assert at.text_input(key="rv_add_case").value == "CASE-UP-9"  # kept for a second try
    assert hash_entries(demo) == before
    at.checkbox(key="rv_add_new_case").check()
    at.button(key=ADD).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("CASE-UP-9" in s.value for s in at.success)
    assert hash_entries(demo) > before + 30  # every algorithm, eight variants each
    with demo.context(actor(demo, "reviewer1")) as ctx:
        summary = service.registry_summary(ctx)
    assert set(summary.loc[summary["case"] == "CASE-UP-9", "algorithm"]) >= {"pdq", "phash"}
    assert "CASE-UP-9" in set(table_with(at, "알고리즘")["사례 번호"])
    assert not at.get("imgs")


def test_a_malformed_hash_list_names_the_line_and_adds_nothing(demo, signed_in):
    at = signed_in("reviewer1", "pages/registry.py")
    before = hash_entries(demo)
    good = "ab" * 32
    text = f"algorithm,hash,case\npdq,{good},CASE-L\npdq,12zz,CASE-L\n"
    at.file_uploader(key="rv_import_file_0").set_value(("list.csv", text.encode(), "text/csv"))
    at.checkbox(key="rv_import_new_cases").check()
    at.button(key=IMPORT).click().run()
    assert any("3번째 줄:" in e.value and "아무것도 기록되지 않음" in e.value for e in at.error)
    assert hash_entries(demo) == before
    at.file_uploader(key="rv_import_file_0").set_value(
        ("list.csv", f"algorithm,hash,case\npdq,{good},CASE-L\n".encode(), "text/csv"))
    at.button(key=IMPORT).click().run()
    assert not at.error and hash_entries(demo) == before + 1


def test_the_hash_list_export_asks_its_purpose_and_is_recorded(demo, signed_in):
    at = signed_in("reviewer1", "pages/registry.py")
    at.button(key="FormSubmitter:dl_rv_export-내려받기 준비").click().run()
    assert any("내려받기 목적" in e.value for e in at.error)  # the one purpose rule of every export
    at.text_input(key="purpose_rv_export").input("해시 목록 교환 (방송통신심의위원회)")
    at.button(key="FormSubmitter:dl_rv_export-내려받기 준비").click().run()
    assert not at.error and at.get("download_button")
    with demo.sessions() as s:
        manifest = s.scalars(select(ExportManifest).where(ExportManifest.kind == "hash_list")).one()
    assert manifest.rows == hash_entries(demo)


def test_a_folder_scan_flags_exactly_the_reencoded_copy(demo, signed_in, tmp_path):
    folder = registered_and_scanned(demo, tmp_path)
    at = signed_in("reviewer1", "pages/scans.py")
    at.button(key=SCAN).click().run()
    assert any("경로" in e.value for e in at.error)  # no path typed: said in place
    at.text_input(key="rv_scan_path").input(str(folder))
    at.number_input(key="rv_scan_workers").set_value(1)
    at.button(key=SCAN).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    items = table_with(at, "일치 (사례 · 알고리즘 · 거리)").set_index("경로")
    assert items.loc["astronaut_q35.jpg", "결과"] == "탐지"
    assert items.loc["astronaut_q35.jpg", "일치 (사례 · 알고리즘 · 거리)"].startswith("CASE-RV · pdq")
    assert items.loc["china.jpg", "결과"] == "이상 없음"
    assert items.loc["china.jpg", "일치 (사례 · 알고리즘 · 거리)"] == ""
    with demo.context(actor(demo, "reviewer1")) as ctx:
        queue = service.review_queue(ctx)
        scans = service.list_scans(ctx)
    assert [f.item_path for f in queue] == ["astronaut_q35.jpg"]
    assert [(s.status, s.items_done) for s in scans] == [("finished", 2)]
    assert len(table_with(at, "시작한 계정")) == 1
    assert not at.get("imgs")
    # A second scan shows its own results, not the ones chosen before.
    at.button(key=SCAN).click().run()
    with demo.context(actor(demo, "reviewer1")) as ctx:
        newest = service.list_scans(ctx)[0]
    assert at.selectbox(key="rv_scan_choice_ko").value == newest.id
    assert len(table_with(at, "시작한 계정")) == 2


def test_an_uploaded_zip_is_scanned_and_an_interrupted_scan_resumes(demo, signed_in, tmp_path):
    import zipfile

    folder = registered_and_scanned(demo, tmp_path)
    reviewer = actor(demo, "reviewer1")

    def stop(done, total):
        raise KeyboardInterrupt

    with demo.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan(ctx, folder, workers=1, progress=stop)
    at = signed_in("reviewer1", "pages/scans.py")
    assert at.selectbox(key="rv_scan_choice_ko").value is not None
    at.button(key="rv_resume_folder").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with demo.context(reviewer) as ctx:
        (scan,) = service.list_scans(ctx)
        assert (scan.status, scan.items_done) == ("finished", 2)
        assert [f.item_path for f in service.review_queue(ctx)] == ["astronaut_q35.jpg"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("copy.jpg", jpeg("astronaut", 50))
        zf.writestr("../../etc/evil.jpg", b"x")
    gen = at.session_state["rv_scan_gen"]  # a finished scan empties the uploaders
    at.file_uploader(key=f"rv_scan_zip_{gen}").set_value(("batch.zip", buf.getvalue(), "application/zip"))
    at.button(key="FormSubmitter:rv_scan_zip_form-검사 시작").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    items = table_with(at, "일치 (사례 · 알고리즘 · 거리)").set_index("경로")
    assert items.loc["copy.jpg", "결과"] == "탐지"
    assert "path traversal" in items.loc["../../etc/evil.jpg", "오류 사유"]
    assert not at.get("imgs")


def test_an_interrupted_manifest_scan_resumes_from_the_scans_page(demo, signed_in, tmp_path):
    folder = registered_and_scanned(demo, tmp_path)
    manifest = folder / "crawl.csv"
    manifest.write_text("uri,platform,page_url,first_seen\n" + "".join(
        f"{folder / n},board.example,https://board.example/t/{k},2026-12-01\n"
        for k, n in enumerate(("astronaut_q35.jpg", "china.jpg"))))
    reviewer = actor(demo, "reviewer1")

    def stop(done, total):
        raise KeyboardInterrupt

    with demo.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_manifest_scan(ctx, manifest, workers=1, progress=stop)
    with demo.context(reviewer) as ctx:
        assert service.manifest_of(service.list_scans(ctx)[0].source) == str(manifest)
    at = signed_in("reviewer1", "pages/scans.py")
    at.button(key="rv_resume_folder").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with demo.context(reviewer) as ctx:
        (scan,) = service.list_scans(ctx)
        assert (scan.status, scan.items_done) == ("finished", 2)
        assert [f.source_url for f in service.review_queue(ctx)] == ["https://board.example/t/0"]


def test_a_zip_that_would_dodge_the_scan_is_scanned_or_refused_in_one_line(demo, signed_in,
                                                                          tmp_path):
    import os
    import warnings
    import zipfile

    folder = registered_and_scanned(demo, tmp_path)
    with open(os.path.join(os.fsencode(folder), b"copy\xff.jpg"), "wb") as fh:
        fh.write(jpeg("astronaut", 40))
    at = signed_in("reviewer1", "pages/scans.py")
    at.text_input(key="rv_scan_path").input(str(folder))
    at.number_input(key="rv_scan_workers").set_value(1)
    at.button(key=SCAN).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    items = table_with(at, "일치 (사례 · 알고리즘 · 거리)").set_index("경로")
    assert items.loc["copy\\xff.jpg", "결과"] == "탐지"  # scanned, its name shown escaped

    # Two members of one name: both are scanned, and the registered one is flagged.
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")
        zf.writestr("photo.jpg", jpeg("china"))
        zf.writestr("photo.jpg", jpeg("astronaut", 45))
    gen = at.session_state["rv_scan_gen"]
    at.file_uploader(key=f"rv_scan_zip_{gen}").set_value(("dup.zip", buf.getvalue(), "application/zip"))
    at.button(key="FormSubmitter:rv_scan_zip_form-검사 시작").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    items = table_with(at, "일치 (사례 · 알고리즘 · 거리)")
    assert sorted(items["결과"]) == ["이상 없음", "탐지"]

    # A member flagged UTF-8 that is not: one line in place, no traceback, no scan stored.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("b\u00e9.jpg", b"x")
    bad = buf.getvalue().replace("\u00e9".encode(), b"\xff\xfe")
    gen = at.session_state["rv_scan_gen"]
    at.file_uploader(key=f"rv_scan_zip_{gen}").set_value(("odd.zip", bad, "application/zip"))
    at.button(key="FormSubmitter:rv_scan_zip_form-검사 시작").click().run()
    assert not at.exception
    # One line, in the reader's language, naming the member and its escaped name.
    assert [e.value for e in at.error] == [
        "odd.zip의 1번째 항목은 압축 파일에 UTF-8로 표시되어 있지만 이름이 올바른 UTF-8이 아닙니다. "
        "이름은 b\\xff\\xfe.jpg(으)로 표시합니다."]
    with demo.context(actor(demo, "reviewer1")) as ctx:
        assert len(service.list_scans(ctx)) == 2


def test_a_reason_is_required_and_a_confirmation_opens_a_takedown(demo, signed_in, tmp_path):
    folder = registered_and_scanned(demo, tmp_path)
    reviewer = actor(demo, "reviewer1")
    with demo.context(reviewer) as ctx:
        service.run_scan(ctx, folder, workers=1)
        (flag,) = service.review_queue(ctx)
    at = signed_in("reviewer1", "pages/review.py")
    at.button(key=f"rv_confirm_{flag.id}").click().run()
    assert any("필수입니다" in e.value for e in at.error)
    with demo.context(reviewer) as ctx:
        assert [f.status for f in service.review_queue(ctx, status=None)] == ["pending"]
        assert service.takedowns(ctx) == []
    at.text_input(key=f"rv_reason_{flag.id}").input("등록 사진과 같은 사진의 재압축본")
    at.button(key=f"rv_confirm_{flag.id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with demo.context(reviewer) as ctx:
        assert service.review_queue(ctx) == []
        (td,) = service.takedowns(ctx)
    assert td.status == "requested" and td.flag_id == flag.id
    assert any("삭제 요청" in s.value for s in at.success)
    table = table_with(at, "삭제 요청 상태")
    assert list(table["사례 번호"]) == ["CASE-RV"]
    assert list(table["분석 담당자에게 사건 제안"]) == ["해당 없음 (참여자 사례 아님)"]
    # The platform removed it: the reviewer records that.
    at.selectbox(key=f"rv_td_next_{td.id}_ko").select("removed")
    at.text_input(key=f"rv_td_platform_{td.id}").input("example platform")
    at.button(key="rv_td_save").click().run()
    assert not at.error, [e.value for e in at.error]
    with demo.context(reviewer) as ctx:
        (td,) = service.takedowns(ctx)
    assert (td.status, td.platform) == ("removed", "example platform") and td.removed_at is not None
    assert table_with(at, "삭제 요청 상태")["삭제 요청 상태"].tolist() == ["삭제됨"]


def test_a_crawled_flag_shows_where_it_was_found_and_its_takedown_names_the_page(demo, signed_in,
                                                                                tmp_path):
    folder = registered_and_scanned(demo, tmp_path)
    manifest = folder / "crawl.csv"
    manifest.write_text("uri,platform,page_url,first_seen\n"
                        f"{folder / 'astronaut_q35.jpg'},board.example,https://board.example/t/7,"
                        "2026-12-01T18:05:00+09:00\n"
                        f"{folder / 'china.jpg'},board.example,https://board.example/t/8,2026-12-01\n")
    reviewer = actor(demo, "reviewer1")
    with demo.context(reviewer) as ctx:
        service.run_manifest_scan(ctx, manifest, workers=1)
        (flag,) = service.review_queue(ctx)
    at = signed_in("reviewer1", "pages/review.py")
    assert not at.exception
    # Seoul's time, as the crawler reported it (18:05 +09:00), the Korean way.
    assert ("발견 위치: board.example · https://board.example/t/7 · 처음 발견 2026. 12. 1. 18:05"
            ) in [c.value for c in at.caption]
    at.text_input(key=f"rv_reason_{flag.id}").input("등록 사진과 같은 사진의 재압축본")
    at.button(key=f"rv_confirm_{flag.id}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = table_with(at, "삭제 요청 상태")
    assert (list(table["플랫폼"]), list(table["게시 페이지"])) == (
        ["board.example"], ["https://board.example/t/7"])


def test_a_flag_reviewed_meanwhile_by_someone_else_gives_the_conflict(demo, signed_in, tmp_path,
                                                                      make_account):
    folder = registered_and_scanned(demo, tmp_path)
    with demo.context(actor(demo, "reviewer1")) as ctx:
        service.run_scan(ctx, folder, workers=1)
        (flag,) = service.review_queue(ctx)
    at = signed_in("reviewer1", "pages/review.py")
    with demo.context(make_account("reviewer", "reviewer2")) as ctx:
        service.review_flag(ctx, flag.id, decision="confirm", reason="seen first",
                            expected_version=flag.version)
    at.text_input(key=f"rv_reason_{flag.id}").input("다른 사진으로 보임")
    at.button(key=f"rv_reject_{flag.id}").click().run()
    assert any(f"탐지 {flag.id}은(는) 이미 확인됨 상태입니다(처리: reviewer2" in e.value for e in at.error)
    with demo.context(actor(demo, "reviewer1")) as ctx:
        (confirmed,) = service.review_queue(ctx, status="confirmed")
    assert confirmed.reviewed_by == "reviewer2"


@pytest.mark.parametrize("username", ["counselor1", "committee1", "analyst1", "admin"])
def test_other_roles_are_refused_by_the_use_cases_and_the_pages(demo, signed_in, username):
    who = actor(demo, username)
    calls = [
        lambda ctx: service.registry_summary(ctx),
        lambda ctx: service.add_uploads_to_registry(ctx, case_ref="X", new_case=True,
                                                    uploads=[("a.jpg", jpeg("coffee"))]),
        lambda ctx: service.import_hash_list_bytes(ctx, b"algorithm,hash,case\n"),
        lambda ctx: exports.hash_list(ctx, purpose="just looking"),
        lambda ctx: service.run_scan_upload(ctx, "u.zip", b"PK"),
        lambda ctx: service.list_scans(ctx),
        lambda ctx: service.scan_report(ctx, 1),
        lambda ctx: service.review_queue(ctx),
        lambda ctx: service.review_flag(ctx, 1, decision="confirm", reason="x", expected_version=1),
        lambda ctx: service.takedowns(ctx),
        lambda ctx: service.update_takedown(ctx, 1, status="removed", expected_version=1),
    ]
    for call in calls:
        with demo.context(who) as ctx, pytest.raises(PermissionDenied):
            call(ctx)
    # The pages are not in this role's menu; opened anyway, each one's guard refuses.
    token = accounts.start_login_session(demo, who)
    for page in PAGES:
        at = AppTest.from_file(str(APP_DIR / page), default_timeout=30)
        at.session_state[BROWSER_COOKIE] = token
        at.run()
        assert [e.value for e in at.error] == ["접근 권한이 없습니다"], page
        assert not at.dataframe and not at.get("plotly_chart")


def test_every_reviewer_status_has_a_label_in_both_languages(backend):
    from dashboard.i18n import TEXT
    from db.schema import PROPOSAL_STATUSES, SCAN_STATUSES, TAKEDOWN_STATUSES

    for prefix, values in (("rv_st_", (*SCAN_STATUSES, "flagged", "clear", "error", "image", "video")),
                           ("rv_td_", TAKEDOWN_STATUSES), ("rv_ev_", (*PROPOSAL_STATUSES, "none"))):
        for value in values:
            assert set(TEXT[prefix + value]) == {"ko", "en"}, prefix + value

