"""Crawl manifests: every line checked before anything is written, and each item's source kept
on its flag and on the takedown request a confirmed flag opens."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path, PurePath

import fsspec
import pytest
from sqlalchemy import func, select

from db.schema import Flag, Scan, ScanItem
from detection import manifests, service
from detection.engines import LocalEngine
from errors import ValidationError
from tests.detection import test_service
from tests.detection.test_service import EXPECTED, jpeg, photo

# The registry and upload folder of the scan tests (CASE-A of a participant, CASE-B of none).
reviewer, setup = test_service.reviewer, test_service.setup

HEADER = "uri,platform,page_url,first_seen\n"


def source_of(path: str) -> tuple[str, str, str]:
    # A platform, page and time per file, so that a mix-up between items shows.
    n = sorted(EXPECTED).index(path)
    return (f"platform-{n % 3}", f"https://example.org/post/{n}",
            f"2026-11-{n + 1:02d}T08:30:00+09:00")


def write_manifest(uploads: Path, at: Path, paths=tuple(EXPECTED)) -> Path:
    lines = [HEADER] + [
        ",".join((str(uploads / p), *source_of(p))) + "\n" for p in paths]
    at.write_text("".join(lines), encoding="utf-8")
    return at


# --- the format (pure) ------------------------------------------------------------------------


def test_a_manifest_gives_each_uri_its_source_with_first_seen_in_utc(tmp_path):
    item = tmp_path / "a.jpg"
    text = (HEADER + f"{item},x.example,https://x.example/p/1,2026-12-01T09:00:00+09:00\n\n"
            f"file://{tmp_path / 'b.jpg'},y.example,http://y.example/p?id=2,2026-12-01\n")
    rows = manifests.parse(text, PurePath("crawl.csv"), roots=[tmp_path])
    assert [(r.line, r.uri, r.source) for r in rows] == [
        (2, str(item), manifests.ItemSource("x.example", "https://x.example/p/1",
                                            dt.datetime(2026, 12, 1, 0, 0))),
        (4, str(tmp_path / "b.jpg"), manifests.ItemSource(
            "y.example", "http://y.example/p?id=2", dt.datetime(2026, 12, 1))),
    ]
    items, sources = manifests.items(rows)
    assert [i.file for i in items] == [str(item), str(tmp_path / "b.jpg")]
    assert sources[items[1].key].platform == "y.example"


def test_bad_lines_are_refused_with_their_line_numbers(tmp_path, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    ok = f"{tmp_path / 'ok.jpg'},p,https://p.example/1,2026-12-01"
    text = HEADER + "\n".join([
        ok,                                                              # 2
        f"{tmp_path / 'x.jpg'},p,ftp://p.example/1,2026-12-01",           # 3 not http(s)
        f"{tmp_path / 'y.jpg'},p,https://p.example/1,yesterday",          # 4 bad date
        f"{tmp_path / 'z.jpg'},,https://p.example/1,2026-12-01",          # 5 no platform
        f"{outside / 'w.jpg'},p,https://p.example/1,2026-12-01",          # 6 outside the roots
        "s3://bucket/v.jpg,p,https://p.example/1,2026-12-01",             # 7 URL not allowed
        ok,                                                              # 8 duplicate
        f"{tmp_path / 'u.jpg'},p,https://p.example/1,2026-12-01,extra",   # 9 an extra field
        "relative/t.jpg,p,https://p.example/1,2026-12-01",                # 10 relative
    ]) + "\n"
    with pytest.raises(ValidationError) as err:
        manifests.parse(text, PurePath("crawl.csv"), roots=[tmp_path],
                        prefixes=["s3://other-bucket/"])
    message = str(err.value)
    assert "crawl.csv was refused (nothing was scanned or written)" in message
    for line, words in [(3, "http or https"), (4, "ISO 8601"), (5, "platform is empty"),
                        (6, "outside the folders"), (7, "DSCR_SCAN_URLS"),
                        (8, "already on line 2"), (9, "5 fields where the header names 4"),
                        (10, "relative path")]:
        assert f"line {line}: " in message and words in message, (line, message)
    assert "line 2:" not in message


def test_a_header_without_the_columns_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="line 1 of crawl.csv: the header lacks page_url"):
        manifests.parse("uri,platform,first_seen\n", PurePath("crawl.csv"), roots=[tmp_path])
    with pytest.raises(ValidationError, match="lists no items"):
        manifests.parse(HEADER, PurePath("crawl.csv"), roots=[tmp_path])


def test_a_url_under_an_allowed_prefix_is_accepted(tmp_path):
    rows = manifests.parse(HEADER + "s3://crawl/day1/a.jpg,p,https://p.example/1,2026-12-01\n",
                           PurePath("m.csv"), roots=[tmp_path], prefixes=["s3://crawl/"])
    assert rows[0].uri == "s3://crawl/day1/a.jpg"


# --- the scan (store) -------------------------------------------------------------------------


def test_a_manifest_scan_keeps_each_items_source_on_its_flag_and_its_takedown(
        rt, setup, reviewer, tmp_path):
    manifest = write_manifest(setup["uploads"], tmp_path / "crawl.csv")
    with rt.context(reviewer) as ctx:
        report = service.run_manifest_scan(ctx, manifest, workers=1)
        local = service.run_scan(ctx, setup["uploads"], workers=1)
    assert report.status == "finished" and report.source.startswith("manifest:")
    assert report.totals == local.totals
    by_uri = {i.path: i for i in report.items}
    assert set(by_uri) == {str(setup["uploads"] / p) for p in EXPECTED}
    for path, (status, _) in EXPECTED.items():
        item = by_uri[str(setup["uploads"] / path)]
        assert item.status == status, path
        assert (item.platform, item.page_url) == source_of(path)[:2]
    with rt.context(reviewer) as ctx:
        queue = service.review_queue(ctx)
    assert len(queue) == 4
    for f in queue:
        path = next(p for p in EXPECTED if f.item_path == str(setup["uploads"] / p))
        platform, page, first = source_of(path)
        assert (f.source_platform, f.source_url) == (platform, page)
        assert f.first_seen == dt.datetime.fromisoformat(first).astimezone(dt.UTC).replace(
            tzinfo=None)
    flag = queue[0]
    with rt.context(reviewer) as ctx:
        outcome = service.review_flag(ctx, flag.id, decision="confirm",
                                      reason="the same photo as the registered one",
                                      expected_version=flag.version)
        takedown, = service.takedowns(ctx)
    assert takedown.id == outcome.takedown_id
    assert (takedown.platform, takedown.page_url) == (flag.source_platform, flag.source_url)


def test_a_folder_scans_flags_have_no_source(rt, setup, reviewer):
    with rt.context(reviewer) as ctx:
        service.run_scan(ctx, setup["uploads"], workers=1)
        queue = service.review_queue(ctx)
        outcome = service.review_flag(ctx, queue[0].id, decision="confirm", reason="same photo",
                                      expected_version=queue[0].version)
        takedown, = service.takedowns(ctx)
    assert {(f.source_platform, f.source_url, f.first_seen) for f in queue} == {(None, None, None)}
    assert takedown.id == outcome.takedown_id and (takedown.platform, takedown.page_url) == ("", None)


def test_a_manifest_with_a_bad_line_writes_nothing(rt, setup, reviewer, tmp_path):
    manifest = write_manifest(setup["uploads"], tmp_path / "crawl.csv")
    with manifest.open("a") as fh:
        fh.write(f"{setup['uploads'] / 'more.jpg'},p,not-a-url,2026-12-01\n")
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="line 11: page_url"):
        service.run_manifest_scan(ctx, manifest, workers=1)
    with rt.sessions() as s:
        assert [s.scalar(select(func.count()).select_from(t)) for t in (Scan, ScanItem, Flag)] == [
            0, 0, 0]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_manifest_outside_the_scan_folders_is_refused(rt, reviewer, tmp_path_factory):
    manifest = tmp_path_factory.mktemp("elsewhere") / "crawl.csv"
    manifest.write_text(HEADER)
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="outside the folders"):
        service.run_manifest_scan(ctx, manifest, workers=1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_interrupted_manifest_scan_resumes_with_the_same_manifest(rt, setup, reviewer,
                                                                     tmp_path):
    manifest = write_manifest(setup["uploads"], tmp_path / "crawl.csv")

    def stop_after_four(done, total):
        if done == 4:
            raise KeyboardInterrupt

    with rt.context(reviewer) as ctx, pytest.raises(KeyboardInterrupt):
        service.run_manifest_scan(ctx, manifest, workers=1, progress=stop_after_four)
    with rt.sessions() as s:
        scan_id = s.scalars(select(Scan.id)).one()
    other = write_manifest(setup["uploads"], tmp_path / "other.csv", paths=sorted(EXPECTED)[:3])
    with rt.context(reviewer) as ctx, pytest.raises(ValidationError, match="not manifest"):
        service.run_manifest_scan(ctx, other, workers=1, resume_scan_id=scan_id)
    resumed = []
    with rt.context(reviewer) as ctx:
        report = service.run_manifest_scan(ctx, manifest, workers=1, resume_scan_id=scan_id,
                                           progress=lambda d, t: resumed.append(d))
    assert resumed == [5, 6, 7, 8, 9] and report.status == "finished"
    assert all(i.platform is not None for i in report.items)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_items_named_by_an_fsspec_url_under_an_allowed_prefix_are_read(rt, setup, reviewer,
                                                                        tmp_path):
    fs = fsspec.filesystem("memory")
    fs.pipe("/crawl/day1/astronaut.jpg", jpeg(photo("astronaut"), 40))
    fs.pipe("/crawl/day1/rocket.jpg", jpeg(photo("rocket")))
    rt.settings = dataclasses.replace(rt.settings, scan_urls=("memory://crawl/",))
    manifest = tmp_path / "crawl.csv"
    manifest.write_text(HEADER + "".join(
        f"memory://crawl/day1/{n}.jpg,p.example,https://p.example/{n},2026-12-01\n"
        for n in ("astronaut", "rocket")))
    try:
        with rt.context(reviewer) as ctx:
            # In this process: the memory file system is this process's own.
            report = service.run_manifest_scan(ctx, manifest, engine=LocalEngine(1))
    finally:
        fs.rm("/crawl", recursive=True)
    assert {i.path: (i.status, [m.case for m in i.matches]) for i in report.items} == {
        "memory://crawl/day1/astronaut.jpg": ("flagged", ["CASE-A"]),
        "memory://crawl/day1/rocket.jpg": ("clear", []),
    }
