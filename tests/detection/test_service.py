"""Registry, scans, review and takedowns, on SQLite and PostgreSQL, with package photographs only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from functools import cache
from pathlib import Path

import pytest
import skimage.data
from PIL import Image, ImageDraw, ImageOps
from sklearn.datasets import load_sample_images
from sqlalchemy import func, select

from casework import service as casework
from db.context import SYSTEM
from db.schema import EventProposal, ExportManifest, Flag, HashEntry, Scan, TakedownRequest
from detection import service
from exports import service as exports
from errors import Conflict, NotFound, PermissionDenied, ValidationError

TODAY = dt.date(2026, 3, 2)
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
REGISTERED = ("astronaut", "coffee", "chelsea")


@cache
def photo(name: str) -> Image.Image:
    if name in ("china", "flower"):
        img = Image.fromarray(load_sample_images().images[("china", "flower").index(name)])
    else:
        img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    img.thumbnail((480, 480))
    return img


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def crop(img: Image.Image, fraction: float) -> Image.Image:
    dx, dy = round(img.width * fraction), round(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def caption(img: Image.Image) -> Image.Image:
    out = img.copy()
    top = img.height - img.height // 10
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, top, img.width, img.height), fill=(0, 0, 0))
    draw.text((8, top + 4), "repost if you agree", fill=(255, 255, 255))
    return out


# What a scan of the upload folder must say about each file: flagged with the case, or clear,
# or an error whose reason contains the given words.
EXPECTED = {
    "astronaut_q30.jpg": ("flagged", "CASE-A"),
    "sub/coffee_mirrored.png": ("flagged", "CASE-B"),
    "sub/chelsea_border.jpg": ("flagged", "CASE-B"),
    "chelsea_crop10_caption.jpg": ("flagged", "CASE-B"),
    "rocket.jpg": ("clear", None),
    "china.jpg": ("clear", None),
    "truncated.jpg": ("error", "truncated"),
    "notes.jpg": ("error", "neither a supported image"),
    "empty.jpg": ("error", "empty"),
}


def write_uploads(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "astronaut_q30.jpg").write_bytes(jpeg(photo("astronaut"), 30))
    ImageOps.mirror(photo("coffee")).save(folder / "sub" / "coffee_mirrored.png")
    framed = ImageOps.expand(photo("chelsea"), border=25, fill=(255, 255, 255))
    (folder / "sub" / "chelsea_border.jpg").write_bytes(jpeg(framed, 80))
    (folder / "chelsea_crop10_caption.jpg").write_bytes(jpeg(caption(crop(photo("chelsea"), 0.1))))
    (folder / "rocket.jpg").write_bytes(jpeg(photo("rocket")))
    (folder / "china.jpg").write_bytes(jpeg(photo("china")))
    whole = jpeg(photo("camera"))
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.jpg").write_text("not a picture, whatever the name says\n")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def write_registry_files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in REGISTERED:
        (folder / f"{name}.jpg").write_bytes(jpeg(photo(name), 95))
    return folder


@pytest.fixture
def reviewer(rt, make_account):
    return make_account("reviewer")


@pytest.fixture
def setup(rt, make_account, tmp_path, reviewer):
    """CASE-A belongs to a programme participant; CASE-B is known to the registry only."""
    admin = make_account("admin")
    with rt.context(admin, today=TODAY) as ctx:
        prog = casework.add_programme(ctx, name="Seoul programme")
        cohort = casework.add_cohort(ctx, programme_id=prog, name="2026-1",
                                       start_date=dt.date(2026, 1, 5))
        pid = casework.register_participant(ctx, casework.NewParticipant(
            intake_ref="REF-1", name="Test Person", birth_date=dt.date(2011, 4, 1), sex="male",
            cohort_id=cohort, enrolled_on=dt.date(2026, 1, 10), age_at_referral=14,
            case_ref="CASE-A", offence_date=dt.date(2025, 11, 1),
            referral_date=dt.date(2025, 12, 1)))
    files = write_registry_files(tmp_path / "registry")
    with rt.context(reviewer, today=TODAY) as ctx:
        a = service.add_to_registry(ctx, case_ref="CASE-A", paths=[files / "astronaut.jpg"])
        b = service.add_to_registry(
            ctx, case_ref="CASE-B", paths=[files / "coffee.jpg", files / "chelsea.jpg"],
            new_case=True)
    return {"participant": pid, "files": files, "add": (a, b),
            "uploads": write_uploads(tmp_path / "uploads")}


def by_path(report: service.ScanReport) -> dict[str, service.ItemReport]:
    return {i.path: i for i in report.items}


def flag_count(rt) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(Flag))


# --- registry ---------------------------------------------------------------------------------


def test_registry_add_hashes_every_algorithm_with_variants_and_a_region_signature(rt, setup,
                                                                                 reviewer):
    a, b = setup["add"]
    assert (a.files_hashed, b.files_hashed) == (1, 2)
    assert a.problems == () and a.region_signatures_added == 1 and b.region_signatures_added == 2
    with rt.context(reviewer) as ctx:
        summary = service.registry_summary(ctx)
    counts = {(r.case, r.algorithm): r.entries for r in summary.itertuples()}
    # One photo: 8 dihedral variants per algorithm (fewer only where two variants hash alike).
    for alg in ("pdq", "phash", "dhash", "whash"):
        assert 6 <= counts[("CASE-A", alg)] <= 9
        assert 12 <= counts[("CASE-B", alg)] <= 18
    assert counts[("CASE-A", "orb-ransac-v1")] == 1
    assert counts[("CASE-B", "orb-ransac-v1")] == 2
    with rt.sessions() as s:
        labels = set(s.scalars(select(HashEntry.source_label)))
    assert all(label.startswith("sha256:") for label in labels)  # no file names kept


def test_registry_add_merges_duplicates_and_reports_bad_files(rt, setup, reviewer, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "again.jpg").write_bytes((setup["files"] / "astronaut.jpg").read_bytes())
    (bad / "empty.jpg").write_bytes(b"")
    with rt.sessions() as s:
        before = s.scalar(select(func.count()).select_from(HashEntry))
    with rt.context(reviewer) as ctx:
        result = service.add_to_registry(ctx, case_ref="CASE-A", paths=[bad])
    assert result.files_hashed == 1
    assert result.entries_added == 0 and result.entries_merged >= 32
    assert [(p.path, "empty" in p.reason) for p in result.problems] == [("bad/empty.jpg", True)]
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(HashEntry)) == before


def test_registry_add_refuses_an_unknown_case_without_new_case_and_other_roles(
        rt, setup, make_account):
    with rt.context(make_account("reviewer")) as ctx, pytest.raises(NotFound, match="--new-case"):
        service.add_to_registry(ctx, case_ref="CASE-Z", paths=[setup["files"]])
    with rt.context(make_account("counselor")) as ctx, pytest.raises(PermissionDenied):
        service.add_to_registry(ctx, case_ref="CASE-A", paths=[setup["files"]])


# --- scans ------------------------------------------------------------------------------------


def test_scan_flags_altered_copies_and_reports_bad_files(rt, setup, reviewer, tmp_path):
    seen = []
    with rt.context(reviewer, today=TODAY) as ctx:
        report = service.run_scan(ctx, setup["uploads"], workers=1,
                                  progress=lambda done, total: seen.append((done, total)))
    items = by_path(report)
    assert set(items) == set(EXPECTED)
    for path, (status, detail) in EXPECTED.items():
        item = items[path]
        assert item.status == status, (path, item)
        if status == "flagged":
            assert {m.case for m in item.matches} == {detail}, path
        elif status == "error":
            assert detail in item.error, (path, item.error)
            assert item.matches == ()
        else:
            assert item.matches == () and item.error is None
    crop_match = items["chelsea_crop10_caption.jpg"].matches[0]
    assert crop_match.algorithm == "orb-ransac-v1" and crop_match.inliers >= 12
    assert crop_match.distance is None
    hash_match = items["astronaut_q30.jpg"].matches[0]
    assert hash_match.algorithm == "pdq" and 0 <= hash_match.distance <= 31
    assert report.status == "finished"
    assert report.totals == {"items": 9, "flagged": 4, "clear": 2, "error": 3, "matches": 4}
    assert seen[-1] == (9, 9) and [d for d, _ in seen] == list(range(1, 10))

    out = tmp_path / "report.json"
    out.write_text(json.dumps(report.to_dict()))
    data = json.loads(out.read_text())
    first = next(i for i in data["items"] if i["path"] == "astronaut_q30.jpg")
    assert set(first["matches"][0]) >= {"case", "registry_id", "algorithm", "distance", "frames"}
    assert data["totals"]["flagged"] == 4


@SQLITE_ONLY
def test_rescanning_the_same_content_adds_no_flags(rt, setup, reviewer):
    with rt.context(reviewer) as ctx:
        first = service.run_scan(ctx, setup["uploads"], workers=1)
    n = flag_count(rt)
    assert n == 4
    with rt.context(reviewer) as ctx:
        second = service.run_scan(ctx, setup["uploads"], workers=1)
    assert second.scan_id != first.scan_id
    assert flag_count(rt) == n
    assert [(i.path, i.status, [m.flag_id for m in i.matches]) for i in second.items] == [
        (i.path, i.status, [m.flag_id for m in i.matches]) for i in first.items
    ]


@SQLITE_ONLY
def test_an_interrupted_scan_resumes_where_it_stopped_without_duplicate_flags(rt, setup,
                                                                               reviewer):
    calls = []

    def stop_after_five(done, total):
        calls.append(done)
        if done == 5:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_scan(ctx, setup["uploads"], workers=1, progress=stop_after_five)
    with rt.sessions() as s:
        scan = s.scalars(select(Scan)).one()
        assert (scan.status, scan.items_done) == ("interrupted", 5)
        scan_id = scan.id
    flags_before = flag_count(rt)
    resumed_progress = []
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, setup["uploads"], workers=1, resume_scan_id=scan_id,
                                  progress=lambda d, t: resumed_progress.append(d))
    assert resumed_progress == [6, 7, 8, 9]  # the first five were not hashed again
    assert report.scan_id == scan_id and report.status == "finished"
    assert {p: i.status for p, i in by_path(report).items()} == {
        p: s for p, (s, _) in EXPECTED.items()}
    assert flag_count(rt) == 4 >= flags_before
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="same folder"):
        service.run_scan(ctx, setup["files"], resume_scan_id=scan_id)


@SQLITE_ONLY
def test_scanning_in_two_worker_processes_gives_the_same_report(rt, setup, reviewer):
    with rt.context(reviewer) as ctx:
        serial = service.run_scan(ctx, setup["uploads"], workers=1)
        parallel = service.run_scan(ctx, setup["uploads"], workers=2)
    strip = [(i.path, i.status, [(m.case, m.registry_id, m.algorithm, m.distance)
                                 for m in i.matches], i.error) for i in serial.items]
    assert [(i.path, i.status, [(m.case, m.registry_id, m.algorithm, m.distance)
                                for m in i.matches], i.error) for i in parallel.items] == strip


@SQLITE_ONLY
def test_a_zip_is_scanned_in_memory_and_traversal_members_are_refused(rt, setup, reviewer,
                                                                      tmp_path):
    archive = tmp_path / "uploads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/astronaut.jpg", jpeg(photo("astronaut"), 60))
        zf.writestr("../../etc/evil.jpg", jpeg(photo("astronaut"), 60))
        zf.writestr("/abs/evil.jpg", jpeg(photo("astronaut"), 60))
        zf.writestr("rocket.jpg", jpeg(photo("rocket")))
    with rt.context(reviewer) as ctx:
        report = service.run_scan(ctx, archive, workers=1)
    items = by_path(report)
    assert items["a/astronaut.jpg"].status == "flagged"
    assert items["rocket.jpg"].status == "clear"
    assert "path traversal" in items["../../etc/evil.jpg"].error
    assert "path traversal" in items["/abs/evil.jpg"].error
    assert not (tmp_path.parent / "etc").exists()


@SQLITE_ONLY
def test_a_zip_bomb_is_refused_before_anything_is_scanned(rt, setup, reviewer, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.jpg", b"\0" * (64 * 2**20))
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="zip bomb"):
        service.run_scan(ctx, bomb, workers=1)
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0


# --- review and takedowns ---------------------------------------------------------------------


def test_review_flow_confirm_opens_takedown_and_proposes_event_reject_does_not(
        rt, setup, reviewer, make_account):
    with rt.context(reviewer, today=TODAY) as ctx:
        service.run_scan(ctx, setup["uploads"], workers=1)
        queue = service.review_queue(ctx)
    assert len(queue) == 4 and all(f.status == "pending" for f in queue)
    flag_a = next(f for f in queue if f.case == "CASE-A")
    flag_b = next(f for f in queue if f.case == "CASE-B")
    with rt.context(reviewer, today=TODAY) as ctx:
        with pytest.raises(ValidationError, match="reason"):
            service.review_flag(ctx, flag_a.id, decision="confirm", reason=" ",
                                expected_version=flag_a.version)
        confirmed = service.review_flag(ctx, flag_a.id, decision="confirm",
                                        reason="same photo, recompressed",
                                        expected_version=flag_a.version)
        rejected = service.review_flag(ctx, flag_b.id, decision="reject",
                                       reason="a different scene on review",
                                       expected_version=flag_b.version)
    assert confirmed.status == "confirmed" and confirmed.takedown_id is not None
    assert confirmed.event_proposal_id is not None  # CASE-A belongs to a participant
    assert (rejected.status, rejected.takedown_id, rejected.event_proposal_id) == (
        "rejected", None, None)
    with rt.sessions() as s:
        proposal = s.get(EventProposal, confirmed.event_proposal_id)
        assert (proposal.participant_id, proposal.status, proposal.proposed_date) == (
            setup["participant"], "proposed", TODAY)
        assert s.scalar(select(func.count()).select_from(TakedownRequest)) == 1
    # Reviewing again with the old version names who reviewed it.
    with rt.context(reviewer) as ctx, pytest.raises(Conflict, match=reviewer.username):
        service.review_flag(ctx, flag_a.id, decision="reject", reason="second thoughts",
                            expected_version=flag_a.version)
    with rt.context(make_account("analyst")) as ctx, pytest.raises(PermissionDenied):
        service.review_queue(ctx)

    with rt.context(reviewer) as ctx:
        td = service.takedowns(ctx)[0]
        assert td.status == "requested"
        with pytest.raises(Conflict, match="removed or refused"):
            service.update_takedown(ctx, td.id, status="reappeared", expected_version=td.version)
        removed = service.update_takedown(ctx, td.id, status="removed", platform="example.net",
                                          expected_version=td.version)
        back = service.update_takedown(ctx, td.id, status="reappeared",
                                       expected_version=removed.version)
        with pytest.raises(Conflict, match="changed by"):
            service.update_takedown(ctx, td.id, status="requested",
                                    expected_version=removed.version)
    assert removed.removed_at is not None and removed.platform == "example.net"
    assert back.status == "reappeared" and back.reappeared_at >= back.removed_at


def test_a_second_scan_lists_the_reviewed_flag_with_its_status(rt, setup, reviewer):
    with rt.context(reviewer) as ctx:
        service.run_scan(ctx, setup["uploads"], workers=1)
        flag = next(f for f in service.review_queue(ctx) if f.case == "CASE-A")
        service.review_flag(ctx, flag.id, decision="confirm", reason="same photo",
                            expected_version=flag.version)
        again = service.run_scan(ctx, setup["uploads"], workers=1)
    match = by_path(again)["astronaut_q30.jpg"].matches[0]
    assert (match.flag_id, match.flag_status) == (flag.id, "confirmed")


# --- hash lists -------------------------------------------------------------------------------


def test_export_then_import_round_trips_the_registry(rt, setup, reviewer, tmp_path,
                                                     make_account):
    out = tmp_path / "out" / "hashes.csv"
    with rt.context(reviewer) as ctx:
        exported = exports.hash_list(ctx, purpose="exchange with a platform", delivery="file")
        exports.write_file(exported, out)
        summary = service.registry_summary(ctx)
    rows = list(csv.DictReader(out.open()))
    assert exported.rows == len(rows) > 0
    assert set(rows[0]) == {"algorithm", "hash", "case", "variant", "media_kind", "item"}
    assert all(len(r["hash"]) == 64 for r in rows if r["algorithm"] == "pdq")
    with rt.sessions() as s:
        manifest = s.scalars(select(ExportManifest)).one()
        assert (manifest.kind, manifest.rows, manifest.sha256) == (
            "hash_list", exported.rows, exported.sha256)
    # Importing the same list again merges everything.
    with rt.context(reviewer) as ctx:
        again = service.import_hash_list(ctx, out)
    assert (again.entries_added, again.entries_merged) == (0, exported.rows)
    # Into cases renamed by the partner: new cases, same hashes.
    renamed = tmp_path / "renamed.csv"
    with renamed.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "case": r["case"] + "-X"} for r in rows)
    with rt.context(reviewer) as ctx:
        with pytest.raises(NotFound, match="line 2: case 'CASE-A-X'"):
            service.import_hash_list(ctx, renamed)
        result = service.import_hash_list(ctx, renamed, new_cases=True)
        after = service.registry_summary(ctx)
    assert result.entries_added == exported.rows
    assert set(result.cases_created) == {"CASE-A-X", "CASE-B-X"}
    hashes = summary[summary.algorithm != "orb-ransac-v1"].set_index(["case", "algorithm"])
    moved = after[after.case.str.endswith("-X")].assign(case=lambda d: d.case.str[:-2])
    assert moved.set_index(["case", "algorithm"]).entries.to_dict() == hashes.entries.to_dict()


def test_a_long_hash_list_is_written_in_batches_and_a_rerun_finishes_a_broken_import(
        rt, setup, reviewer, tmp_path):
    from sqlalchemy import event

    listed = tmp_path / "list.csv"
    listed.write_text("algorithm,hash,case\n"
                      + "".join(f"pdq,{i:064x},CASE-NEW\n" for i in range(1, 8)))

    def held() -> int:
        with rt.sessions() as s:
            return s.scalar(select(func.count()).select_from(HashEntry))

    before = held()
    flushes: list[int] = []

    def die_at_the_third_batch(session, _ctx, _instances):
        if any(isinstance(o, HashEntry) for o in session.new):
            flushes.append(1)
            if len(flushes) == 3:
                raise KeyboardInterrupt  # the process is stopped while writing it

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        event.listen(ctx.session, "before_flush", die_at_the_third_batch)
        service.import_hash_list(ctx, listed, new_cases=True, batch_size=2)
    # The two batches committed before stay; the third and fourth were not written.
    assert held() == before + 4
    # Every batch is a transaction of its own, so other users' work goes on between them.
    after_commits: list[int] = []
    with rt.context(reviewer) as ctx:
        event.listen(ctx.session, "after_commit", lambda _s: after_commits.append(held()))
        again = service.import_hash_list(ctx, listed, batch_size=2)
    assert (again.rows, again.entries_added, again.entries_merged) == (7, 3, 4)
    assert after_commits == [before + 4, before + 4, before + 6, before + 7]


def test_a_malformed_hash_list_names_the_line_and_writes_nothing(rt, setup, reviewer, tmp_path):
    good_pdq = "f" * 64
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "algorithm,hash,case\n"
        f"pdq,{good_pdq},CASE-A\n"
        "phash,0123456789abcdef,CASE-A\n"
        "pdq,xyz,CASE-A\n"
        "md5,00,CASE-A\n"
    )
    with rt.sessions() as s:
        before = s.scalar(select(func.count()).select_from(HashEntry))
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError) as err:
        service.import_hash_list(ctx, bad)
    message = str(err.value)
    assert "line 4:" in message and "64 hex digits" in message
    assert "line 5:" in message and "unknown algorithm 'md5'" in message
    assert "line 2" not in message and "nothing was written" in message
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(HashEntry)) == before
    header = tmp_path / "header.csv"
    header.write_text("algo,hash\npdq,00\n")
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="line 1 .*algorithm"):
        service.import_hash_list(ctx, header)


def test_system_actor_is_not_a_reviewer(rt):
    with rt.context(SYSTEM) as ctx, pytest.raises(PermissionDenied):
        service.run_scan(ctx, ".")


def test_a_scan_reads_only_inside_the_scan_folders(rt, reviewer, tmp_path, tmp_path_factory):
    from db.config import Settings, load_settings
    from db.context import Runtime

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "photo.jpg").write_bytes(jpeg(photo("astronaut")))
    outside = tmp_path_factory.mktemp("elsewhere")
    (outside / "other.jpg").write_bytes(jpeg(photo("coffee")))
    (inbox / "escape").symlink_to(outside, target_is_directory=True)
    narrow = Runtime(Settings(**{**rt.settings.__dict__, "scan_roots": (inbox,)}))
    try:
        with narrow.context(reviewer) as ctx:
            assert service.scan_folders(ctx) == [str(inbox)]
            for source in (outside, inbox / "escape", inbox / ".." / ".."):
                with pytest.raises(ValidationError, match="outside the folders scans may read"):
                    service.run_scan(ctx, source, workers=1)
            report = service.run_scan(ctx, inbox, workers=1)
        # The link out of the inbox is not followed: it is listed as refused, and only the
        # inbox's own photo was read.
        items = by_path(report)
        assert sorted(items) == ["escape", "photo.jpg"]
        assert items["escape"].status == "error" and items["photo.jpg"].status in ("clear", "flagged")
        assert "other.jpg" not in json.dumps(report.to_dict())
        with narrow.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Scan)) == 1  # refusals left no scan
    finally:
        narrow.dispose()
    # Without DSCR_SCAN_ROOT the scan folder is the data directory's scan-inbox.
    settings = load_settings({"DSCR_DATA_DIR": str(tmp_path)})
    assert settings.scan_folders == (tmp_path.resolve() / "scan-inbox",)
    several = load_settings({"DSCR_DATA_DIR": str(tmp_path),
                             "DSCR_SCAN_ROOT": f"{inbox}:{outside}"})
    assert several.scan_folders == (inbox.resolve(), outside.resolve())


def test_a_takedown_unanswered_for_a_day_is_past_its_deadline_until_it_moves(rt, setup, reviewer):
    from detection import takedowns as states

    with rt.context(reviewer, today=TODAY) as ctx:
        service.run_scan(ctx, setup["uploads"], workers=1)
        flag = next(f for f in service.review_queue(ctx) if f.case == "CASE-A")
        service.review_flag(ctx, flag.id, decision="confirm", reason="same photo, recompressed",
                            expected_version=flag.version)
        td = service.takedowns(ctx)[0]
        asked = td.requested_at
        assert service.takedowns_past_deadline(ctx, asked + dt.timedelta(hours=23)) == []
        late = service.takedowns_past_deadline(ctx, asked + dt.timedelta(hours=30))
        assert [(v.id, over) for v, over in late] == [(td.id, dt.timedelta(hours=6))]
        service.update_takedown(ctx, td.id, status="removed", expected_version=td.version)
        assert service.takedowns_past_deadline(ctx, asked + dt.timedelta(days=30)) == []
    # The rule itself: only the states that wait on the platform, counted from the last move.
    now = dt.datetime(2026, 3, 5, 12)
    assert states.past_deadline("reappeared", now - dt.timedelta(hours=25), now) == dt.timedelta(hours=1)
    assert states.past_deadline("requested", now - states.RESPONSE_WINDOW, now) is None
    assert states.past_deadline("refused", now - dt.timedelta(days=9), now) is None
    with pytest.raises(ValidationError, match="takedown status"):
        states.past_deadline("lost", now, now)
