"""Detection must not be dodged: odd names, repeated archive members and malformed inputs.

Each test reproduces a way a scan or an import was broken or skipped (a zip with two members of
one name, a file name that is not UTF-8, a zip member flagged UTF-8 that is not, an oversized CSV
field, a key file that is a folder), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.schema import Flag, Scan, ScanItem
from detection import service
from detection.sources import list_source, list_upload, read_item
from errors import ConfigurationError, Conflict, ValidationError
from tests.detection.test_service import TODAY, jpeg, photo

BAD_NAME = b"bad\xffname.jpg"
SHOWN = "bad\\xffname.jpg"  # how dscr shows it: the byte escaped, never a traceback


@pytest.fixture
def reviewer(make_account):
    return make_account("reviewer")


@pytest.fixture
def registered(rt, reviewer):
    """The registry holds one photo (astronaut) under CASE-Z."""
    with rt.context(reviewer, today=TODAY) as ctx:
        service.add_uploads_to_registry(ctx, case_ref="CASE-Z", new_case=True,
                                        uploads=[("p.jpg", jpeg(photo("astronaut"), 95))])


def same_name_zip(path: Path, *, registered_first: bool = False) -> Path:
    """A zip holding photo.jpg twice: a clear photo and the registered one (second by default)."""
    clear, copy = jpeg(photo("rocket")), jpeg(photo("astronaut"), 60)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as zf:
        zf.writestr("other.jpg", jpeg(photo("coffee")))
        for data in ((copy, clear) if registered_first else (clear, copy)):
            zf.writestr("photo.jpg", data)
    return path


def stored_items(rt, scan_id: int) -> list[tuple[str, int, str]]:
    with rt.sessions() as s:
        return [tuple(r) for r in s.execute(
            select(ScanItem.path, ScanItem.member, ScanItem.status)
            .where(ScanItem.scan_id == scan_id).order_by(ScanItem.member, ScanItem.path))]


# --- a zip with two members of one name -------------------------------------------------------


@pytest.mark.parametrize("registered_first", [False, True])
def test_a_zip_with_two_members_of_one_name_scans_both_and_flags_the_registered_copy(
        rt, reviewer, registered, tmp_path, registered_first):
    archive = same_name_zip(tmp_path / "dup.zip", registered_first=registered_first)
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, archive, workers=1)
    assert report.status == "finished"
    assert report.totals == {"items": 3, "flagged": 1, "clear": 2, "error": 0, "matches": 1}
    flagged_member = 2 if registered_first else 3
    assert [(i.path, i.member, i.status) for i in report.items] == [
        ("other.jpg", 1, "clear"),
        ("photo.jpg", 2, "flagged" if registered_first else "clear"),
        ("photo.jpg", 3, "clear" if registered_first else "flagged"),
    ]
    assert stored_items(rt, report.scan_id) == [
        ("other.jpg", 1, "clear"), ("photo.jpg", 2, report.items[1].status),
        ("photo.jpg", 3, report.items[2].status)]
    with rt.sessions() as s:
        # The reviewer can tell which of the two members the flag is about.
        assert s.scalars(select(Flag.item_path)).all() == [f"photo.jpg (member {flagged_member})"]
    data = json.loads(json.dumps(report.to_dict()))
    assert [i["member"] for i in data["items"]] == [1, 2, 3]


def test_listing_a_zip_names_every_member_by_its_index_and_reads_that_member(tmp_path):
    archive = same_name_zip(tmp_path / "dup.zip")
    items, refused = list_source(archive)
    assert refused == []
    assert [(i.path, i.index) for i in items] == [("other.jpg", 1), ("photo.jpg", 2),
                                                 ("photo.jpg", 3)]
    # Each item reads its own member's bytes, not the last member of that name.
    assert read_item(items[1]) == jpeg(photo("rocket"))
    assert read_item(items[2]) == jpeg(photo("astronaut"), 60)
    upload_items, _ = list_upload("dup.zip", archive.read_bytes())
    assert [read_item(i) for i in upload_items] == [read_item(i) for i in items]


def test_an_interrupted_scan_of_a_same_name_zip_resumes_and_still_flags_the_copy(
        rt, reviewer, registered, tmp_path):
    archive = same_name_zip(tmp_path / "dup.zip")

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan(ctx, archive, workers=1, progress=stop_after_two)
    with rt.sessions() as s:
        scan = s.scalars(select(Scan)).one()
        assert (scan.status, scan.items_done) == ("interrupted", 2)
    resumed = []
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, archive, workers=1, resume_scan_id=scan.id,
                                  progress=lambda d, t: resumed.append(d))
    assert resumed == [3]
    assert report.status == "finished"
    assert [(i.member, i.status) for i in report.items] == [(1, "clear"), (2, "clear"),
                                                             (3, "flagged")]


def test_a_scan_whose_items_are_not_all_stored_is_not_marked_finished(
        rt, reviewer, registered, tmp_path, monkeypatch):
    from detection import engines

    archive = same_name_zip(tmp_path / "dup.zip")
    real = engines.run_parallel  # the local engine's pool (detection.engines.LocalEngine)

    def loses_the_last(fn, tasks, **kw):  # a worker that drops a result without a word
        yield from list(real(fn, tasks, **kw))[:-1]

    monkeypatch.setattr(engines, "run_parallel", loses_the_last)
    with rt.context(reviewer) as ctx, pytest.raises(Conflict, match="not finished") as err:
        service.run_scan(ctx, archive, workers=1)
    assert err.value.code == "detection.scan_incomplete"
    assert "photo.jpg (member 3)" in str(err.value)
    with rt.sessions() as s:
        scan = s.scalars(select(Scan)).one()
        assert scan.status == "failed" and scan.finished_at is None
    monkeypatch.setattr(engines, "run_parallel", real)
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, archive, workers=1, resume_scan_id=scan.id)
    assert report.status == "finished" and report.totals["flagged"] == 1


def test_resuming_a_finished_scan_that_skipped_a_file_scans_it(rt, reviewer, registered,
                                                               tmp_path):
    # A scan marked finished by an older dscr that never hashed one file: resuming it hashes
    # the file instead of reporting "finished" again.
    archive = same_name_zip(tmp_path / "dup.zip")
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, archive, workers=1)
    with rt.sessions() as s, s.begin():
        s.execute(ScanItem.__table__.delete().where(ScanItem.member == 3))
        s.execute(Flag.__table__.delete())
    with rt.context(reviewer) as ctx:
        again = service.run_scan(ctx, archive, workers=1, resume_scan_id=report.scan_id)
    assert again.scan_id == report.scan_id and again.status == "finished"
    assert [(i.member, i.status) for i in again.items] == [(1, "clear"), (2, "clear"),
                                                            (3, "flagged")]


# --- a file name that is not UTF-8 ------------------------------------------------------------


def bad_name_folder(folder: Path) -> Path:
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), BAD_NAME), "wb") as fh:
        fh.write(jpeg(photo("astronaut"), 60))
    (folder / "rocket.jpg").write_bytes(jpeg(photo("rocket")))
    return folder


def test_a_file_whose_name_is_not_utf8_is_scanned_flagged_and_shown_escaped(
        rt, reviewer, registered, tmp_path):
    folder = bad_name_folder(tmp_path / "inbox")
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, folder, workers=1)
    assert report.status == "finished"
    assert [(i.path, i.status) for i in report.items] == [(SHOWN, "flagged"),
                                                          ("rocket.jpg", "clear")]
    json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")  # printable as it is
    with rt.sessions() as s:
        assert s.scalars(select(Flag.item_path)).all() == [SHOWN]


def test_an_interrupted_scan_with_a_non_utf8_name_resumes(rt, reviewer, registered, tmp_path):
    folder = bad_name_folder(tmp_path / "inbox")

    def stop_after_one(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan(ctx, folder, workers=1, progress=stop_after_one)
    with rt.sessions() as s:
        scan_id = s.scalars(select(Scan.id)).one()
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, folder, workers=1, resume_scan_id=scan_id)
    assert [(i.path, i.status) for i in report.items] == [(SHOWN, "flagged"),
                                                          ("rocket.jpg", "clear")]


def test_a_shown_name_that_equals_another_files_name_is_kept_apart(tmp_path):
    folder = bad_name_folder(tmp_path / "inbox")
    (folder / SHOWN).write_bytes(b"a file really named with a backslash")
    items, refused = list_source(folder)
    paths = [i.path for i in items] + [r.path for r in refused]
    assert len(paths) == len(set(paths)) == 3
    assert SHOWN in paths and "rocket.jpg" in paths


def test_a_folder_whose_own_name_is_not_utf8_is_scanned(rt, reviewer, registered, tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"in\xfebox")
    os.mkdir(folder)
    with open(os.path.join(folder, b"copy.jpg"), "wb") as fh:
        fh.write(jpeg(photo("astronaut"), 60))
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, os.fsdecode(folder), workers=1)
    assert report.source.endswith("in\\xfebox") and report.totals["flagged"] == 1
    with rt.context(reviewer) as ctx:
        assert [v.source for v in service.list_scans(ctx)] == [report.source]


def test_registry_add_reports_a_non_utf8_name_escaped(rt, reviewer, tmp_path):
    folder = tmp_path / "reg"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"empty\xff.jpg"), "wb"):
        pass
    with rt.context(reviewer) as ctx:
        result = service.add_to_registry(ctx, case_ref="CASE-Y", new_case=True, paths=[folder])
    assert [p.path for p in result.problems] == ["reg/empty\\xff.jpg"]


def test_long_paths_that_share_their_first_1024_characters_are_both_scanned(
        rt, reviewer, registered, tmp_path):
    folder = tmp_path / "inbox"
    deep = folder
    for c in "abcde":
        deep = deep / (c * 220)
    deep.mkdir(parents=True)
    (deep / "1.jpg").write_bytes(jpeg(photo("rocket")))
    (deep / "2.jpg").write_bytes(jpeg(photo("astronaut"), 60))
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, folder, workers=1)
    assert report.status == "finished"
    assert sorted(i.status for i in report.items) == ["clear", "flagged"]
    assert all(len(i.path) <= 1024 for i in report.items)
    assert len({i.path for i in report.items}) == 2


# --- malformed archives, lists and key files: one line, never a traceback ----------------------


def bad_utf8_member_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.jpg", jpeg(photo("rocket")))
        zf.writestr("bad\u00e9.jpg", b"x")  # non-ASCII: written with the UTF-8 flag (bit 11)
    # The same length of bytes that are not UTF-8, in the local and the central header.
    return buf.getvalue().replace("\u00e9".encode(), b"\xff\xfe")


def test_a_zip_member_flagged_utf8_that_is_not_is_refused_in_one_line(rt, reviewer, tmp_path):
    data = bad_utf8_member_zip()
    with pytest.raises(ValidationError) as err:
        list_upload("odd.zip", data)
    assert err.value.code == "detection.member_name"
    assert str(err.value) == ("member 2 of odd.zip has a name that is not valid UTF-8 although "
                              "the archive says it is; it is shown as bad\\xff\\xfe.jpg")
    (tmp_path / "odd.zip").write_bytes(data)
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="member 2 of odd.zip"):
        service.run_scan(ctx, tmp_path / "odd.zip", workers=1)
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="member 2 of odd.zip"):
        service.run_scan_upload(ctx, "odd.zip", data)
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="member 2 of odd.zip"):
        service.add_uploads_to_registry(ctx, case_ref="CASE-Y", new_case=True,
                                        uploads=[("odd.zip", data)])
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0


def test_a_member_named_like_a_folder_that_holds_bytes_is_scanned(rt, reviewer, registered):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("empty-dir/", b"")
        zf.writestr("hidden/", jpeg(photo("astronaut"), 60))
    items, refused = list_upload("u.zip", buf.getvalue())
    assert [i.path for i in items] == ["hidden/"] and refused == []
    with rt.context(reviewer) as ctx:
        report = service.run_scan_upload(ctx, "u.zip", buf.getvalue())
    assert [(i.path, i.status) for i in report.items] == [("hidden/", "flagged")]


HEADER = "algorithm,hash,case\n"


def test_a_hash_list_field_over_the_csv_limit_is_refused_in_one_line(rt, reviewer, tmp_path):
    big = HEADER + "pdq," + "0" * (128 * 1024 + 1) + ",CASE-1\n"
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError) as err:
        service.import_hash_list_bytes(ctx, big.encode(), name="list.csv")
    assert err.value.code == "detection.hashlist_field_size"
    assert "line 2 of list.csv" in str(err.value) and "131,072" in str(err.value)
    path = tmp_path / "big.csv"
    path.write_text(big)
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="line 2 of big.csv"):
        service.import_hash_list(ctx, path)
    head = tmp_path / "head.csv"
    head.write_text("x" * (128 * 1024 + 1) + ",hash,case\n")
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="line 1 of head.csv"):
        service.import_hash_list(ctx, head)


def test_a_hash_list_that_is_a_folder_is_refused_in_one_line(rt, reviewer, tmp_path):
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="cannot be read"):
        service.import_hash_list(ctx, tmp_path)


def test_a_key_file_that_is_a_folder_is_a_configuration_error(tmp_path):
    from db.crypto import Keyring
    from db.pseudonym import StudyCoder

    folder = tmp_path / "keys"
    folder.mkdir()
    with pytest.raises(ConfigurationError) as err:
        Keyring.from_file(folder, create=True)
    assert err.value.code == "db.key_file_folder"
    assert str(err.value) == (f"The key file {folder} (DSCR_KEY_FILE) is a folder, not a file; "
                              "point DSCR_KEY_FILE at the key file itself.")
    with pytest.raises(ConfigurationError, match="DSCR_STUDY_KEY_FILE"):
        StudyCoder.from_file(folder, create=True)
