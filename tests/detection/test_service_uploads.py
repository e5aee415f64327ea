"""Use cases that take uploaded bytes (the dashboard's file uploads), with package photographs only."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.schema import ExportManifest, HashEntry, Scan
from detection import hashlist, service
from detection.sources import Limits
from exports import service as exports
from errors import NotFound, PermissionDenied, ValidationError
from tests.detection.test_service import TODAY, jpeg, photo

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def reviewer(make_account):
    return make_account("reviewer")


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def entries(rt, case_ref: str | None = None) -> int:
    from db.schema import Case

    with rt.sessions() as s:
        stmt = select(func.count()).select_from(HashEntry)
        if case_ref is not None:
            stmt = stmt.join(Case, Case.id == HashEntry.case_id).where(Case.case_ref == case_ref)
        return s.scalar(stmt)


def leftover_temp_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("dscr-*")}


def test_uploaded_images_hash_like_the_same_files_on_disk(rt, reviewer, tmp_path):
    data = jpeg(photo("astronaut"), 95)
    (tmp_path / "astronaut.jpg").write_bytes(data)
    with rt.context(reviewer, today=TODAY) as ctx:
        up = service.add_uploads_to_registry(ctx, case_ref="UP-1", uploads=[("a.jpg", data)],
                                             new_case=True)
        disk = service.add_to_registry(ctx, case_ref="DISK-1", paths=[tmp_path / "astronaut.jpg"],
                                       new_case=True)
    assert up.files_hashed == 1 and up.problems == () and up.region_signatures_added == 1
    assert up.entries_added == disk.entries_added > 30
    with rt.sessions() as s:
        def hashes(ref):
            from db.schema import Case
            return set(s.execute(select(HashEntry.algorithm, HashEntry.hash_hex)
                                 .join(Case, Case.id == HashEntry.case_id)
                                 .where(Case.case_ref == ref)).all())
        assert hashes("UP-1") == hashes("DISK-1")
        labels = set(s.scalars(select(HashEntry.source_label)))
    assert all(label.startswith("sha256:") for label in labels)  # the upload's name is not kept


def test_an_uploaded_zip_is_read_from_memory_and_its_unsafe_members_refused(rt, reviewer):
    archive = zipped({"coffee.jpg": jpeg(photo("coffee")), "../escape.jpg": jpeg(photo("rocket")),
                      "notes.txt": b"not a picture"})
    with rt.context(reviewer, today=TODAY) as ctx:
        result = service.add_uploads_to_registry(
            ctx, case_ref="UP-2", uploads=[("batch.zip", archive)], new_case=True)
    assert result.files_hashed == 1
    problems = {p.path: p.reason for p in result.problems}
    assert set(problems) == {"batch.zip/../escape.jpg", "batch.zip/notes.txt"}
    assert "path traversal" in problems["batch.zip/../escape.jpg"]
    assert "neither a supported image" in problems["batch.zip/notes.txt"]


def test_an_uploaded_zip_bomb_is_refused_whole_and_nothing_is_added(rt, reviewer):
    bomb = zipped({"zeros.jpg": b"\0" * (4 * 2**20)})
    with rt.context(reviewer, today=TODAY) as ctx, pytest.raises(ValidationError, match="zip bomb"):
        service.add_uploads_to_registry(ctx, case_ref="UP-3", uploads=[("b.zip", bomb)],
                                        new_case=True)
    assert entries(rt) == 0


def test_an_uploaded_video_is_hashed_by_frames_and_its_temporary_file_removed(rt, reviewer,
                                                                            tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 192, "yuv420p"
        for name in ("chelsea", "coffee"):
            img = photo(name).resize((256, 192))
            for _ in range(15):
                for packet in stream.encode(av.VideoFrame.from_image(img)):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    before = leftover_temp_files()
    with rt.context(reviewer, today=TODAY) as ctx:
        result = service.add_uploads_to_registry(
            ctx, case_ref="UP-4", uploads=[("clip.mp4", path.read_bytes())], new_case=True)
    assert result.problems == () and result.files_hashed == 1
    assert leftover_temp_files() <= before
    with rt.sessions() as s:
        kinds = set(s.scalars(select(HashEntry.media_kind)))
        variants = set(s.scalars(select(HashEntry.variant)))
    assert kinds == {"video"}
    assert any(v.startswith("t=") for v in variants)  # frames carry their times


def test_upload_use_cases_refuse_other_roles_and_unknown_cases(rt, make_account):
    data = jpeg(photo("coffee"))
    for role in ("counselor", "analyst", "committee", "admin"):
        with rt.context(make_account(role)) as ctx:
            with pytest.raises(PermissionDenied):
                service.add_uploads_to_registry(ctx, case_ref="X", uploads=[("a.jpg", data)],
                                                new_case=True)
            with pytest.raises(PermissionDenied):
                service.import_hash_list_bytes(ctx, b"algorithm,hash,case\n")
            with pytest.raises(PermissionDenied):
                exports.hash_list(ctx, purpose="exchange with the platform")
            with pytest.raises(PermissionDenied):
                service.run_scan_upload(ctx, "u.zip", zipped({"a.jpg": data}))
            with pytest.raises(PermissionDenied):
                service.list_scans(ctx)
    with rt.context(make_account("reviewer")) as ctx, pytest.raises(NotFound, match="No case"):
        service.add_uploads_to_registry(ctx, case_ref="NOPE", uploads=[("a.jpg", data)])
    assert entries(rt) == 0


# --- hash lists -------------------------------------------------------------------------------


def test_an_uploaded_hash_list_with_a_bad_line_names_it_and_adds_nothing(rt, reviewer):
    good = "f" * 64
    text = f"algorithm,hash,case\npdq,{good},CASE-H\npdq,xyz,CASE-H\nmd5,{good},CASE-H\n"
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError) as err:
        service.import_hash_list_bytes(ctx, text.encode(), name="list.csv", new_cases=True)
    assert "line 3:" in str(err.value) and "line 4:" in str(err.value)
    assert "nothing was written" in str(err.value)
    assert entries(rt) == 0
    with rt.context(reviewer) as ctx:
        ok = service.import_hash_list_bytes(
            ctx, f"\ufeffalgorithm,hash,case\npdq,{good},CASE-H\n".encode(), new_cases=True)
    assert (ok.rows, ok.entries_added, ok.cases_created) == (1, 1, ("CASE-H",))
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="UTF-8"):
        service.import_hash_list_bytes(ctx, b"\xff\xfe\x00bad", name="list.csv")


def test_the_hash_list_download_records_its_purpose_and_neutralises_formulas(rt, reviewer):
    good = "0f" * 32
    with rt.context(reviewer) as ctx:
        service.import_hash_list_bytes(
            ctx, f"algorithm,hash,case\npdq,{good},=HYPERLINK\n".encode(), new_cases=True)
        with pytest.raises(ValidationError, match="purpose"):
            exports.hash_list(ctx, purpose="  ")
        data = exports.hash_list(ctx, purpose="exchange with the platform").data
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == list(hashlist.COLUMNS)
    assert rows[1][:3] == ["pdq", good, "'=HYPERLINK"]
    with rt.sessions() as s:
        manifest = s.scalars(select(ExportManifest)).one()
    assert (manifest.kind, manifest.purpose, manifest.rows) == (
        "hash_list", "exchange with the platform", 1)


# --- scans of uploads -------------------------------------------------------------------------


def test_a_scan_of_an_uploaded_zip_flags_the_copy_and_resumes_by_content(rt, reviewer):
    with rt.context(reviewer, today=TODAY) as ctx:
        service.add_uploads_to_registry(ctx, case_ref="CASE-Z", new_case=True,
                                        uploads=[("p.jpg", jpeg(photo("astronaut"), 95))])
    archive = zipped({"copy_q40.jpg": jpeg(photo("astronaut"), 40),
                      "other.jpg": jpeg(photo("rocket")), "sub/../../up.jpg": b"x"})
    seen: list[tuple[int, int]] = []

    def stop_after_two(done, total):
        seen.append((done, total))
        if done == 2:
            raise KeyboardInterrupt

    with rt.context(reviewer, today=TODAY) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan_upload(ctx, "C:\\Users\\me\\uploads.zip", archive,
                                progress=stop_after_two)
    with rt.context(reviewer) as ctx:
        scans = service.list_scans(ctx)
    assert [(v.status, v.items_done, v.items_total) for v in scans] == [("interrupted", 2, 3)]
    assert scans[0].source.endswith(":uploads.zip") and scans[0].started_by == reviewer.username
    with rt.context(reviewer, today=TODAY) as ctx:
        report = service.run_scan_upload(ctx, "uploads.zip", archive,
                                         resume_scan_id=scans[0].id)
    items = {i.path: i for i in report.items}
    assert items["copy_q40.jpg"].status == "flagged"
    assert [m.case for m in items["copy_q40.jpg"].matches] == ["CASE-Z"]
    assert items["other.jpg"].status == "clear"
    assert "path traversal" in items["sub/../../up.jpg"].error
    assert report.status == "finished" and report.totals["flagged"] == 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 1
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="same folder or zip"):
        service.run_scan_upload(ctx, "uploads.zip", zipped({"a.jpg": b"1"}),
                                resume_scan_id=scans[0].id)


def test_a_scan_upload_bomb_is_refused_before_anything_is_read(rt, reviewer):
    bomb = zipped({"zeros.jpg": b"\0" * (4 * 2**20)})
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="zip bomb"):
        service.run_scan_upload(ctx, "b.zip", bomb, limits=Limits())
    with rt.context(reviewer) as ctx:
        assert service.list_scans(ctx) == []


def test_a_confirmed_flag_shows_whether_an_event_was_proposed(rt, reviewer, make_account):
    import datetime as dt

    from casework import service as casework

    admin = make_account("admin")
    with rt.context(admin, today=TODAY) as ctx:
        prog = casework.add_programme(ctx, name="Seoul programme")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="2026-1",
                                       start_date=dt.date(2026, 1, 5))
        casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-1", name="Test Person", birth_date=dt.date(2011, 4, 1), sex="male",
            cohort_id=cohort, enrolled_on=dt.date(2026, 1, 10), age_at_referral=14,
            case_ref="CASE-P", offence_date=dt.date(2025, 11, 1),
            referral_date=dt.date(2025, 12, 1)))
    with rt.context(reviewer, today=TODAY) as ctx:
        service.add_uploads_to_registry(ctx, case_ref="CASE-P",
                                        uploads=[("p.jpg", jpeg(photo("coffee"), 95))])
        service.add_uploads_to_registry(ctx, case_ref="CASE-Q", new_case=True,
                                        uploads=[("q.jpg", jpeg(photo("chelsea"), 95))])
        service.run_scan_upload(ctx, "u.zip", zipped({"c.jpg": jpeg(photo("coffee"), 50),
                                                      "d.jpg": jpeg(photo("chelsea"), 50)}))
        for f in service.review_queue(ctx):
            service.review_flag(ctx, f.id, decision="confirm", reason="same photo as the case",
                                expected_version=f.version)
        confirmed = {f.case: f.event_proposal for f in service.review_queue(ctx, status="confirmed")}
    assert confirmed == {"CASE-P": "proposed", "CASE-Q": None}
