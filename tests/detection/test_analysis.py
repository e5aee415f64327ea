"""Decoding and hashing one file without a database, and the worker pool."""

from __future__ import annotations

import operator
import os
from pathlib import Path

from PIL import Image

from detection.analysis import Analysis, AnalysisOptions, analyse, run_parallel
from detection.sources import Item
from tests.detection.test_service import jpeg, photo


def analysed(path: Path, mode: str = "query", region: bool = True) -> Analysis:
    return analyse((Item(path.name, os.fspath(path)), AnalysisOptions(mode=mode, region=region)))


def test_analyse_keeps_hashes_only_and_reports_bad_files_without_raising(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg(photo("coffee")))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    a = analysed(good)
    assert a.ok and a.kind == "image" and len(a.digest) == 64
    frame = a.frames[0]
    assert set(frame.hashes) == {"pdq", "phash", "dhash", "whash"}
    assert [v for v, _ in frame.hashes["pdq"]] == ["plain"]  # no border to trim
    assert frame.region is not None and frame.region.startswith(b"DSRS")
    bad = analysed(tmp_path / "bad.jpg")
    assert not bad.ok and "bad.jpg" in bad.error
    registry = analysed(good, mode="registry")
    assert [v for v, _ in registry.frames[0].hashes["pdq"]][:2] == ["original", "rot90"]
    assert len(registry.frames[0].hashes["pdq"]) == 8


def test_run_parallel_gives_every_result_in_one_or_two_processes():
    # A builtin, so the spawned workers need not import this test module.
    assert sorted(run_parallel(operator.neg, range(20), workers=2, window=3)) == list(
        range(-19, 1))
    assert list(run_parallel(operator.neg, [1, 2], workers=1)) == [-1, -2]


def test_run_parallel_runs_every_task_even_a_none_one():
    # operator.not_ takes None; a None task once ended the run, dropping the tasks after it.
    tasks = [1, None, 0, None, 2, 3]
    assert sorted(run_parallel(operator.not_, tasks, workers=2, window=2)) == sorted(
        map(operator.not_, tasks))


def test_transparent_png_and_grey_images_are_analysed(tmp_path):
    rgba = photo("coffee").convert("RGBA")
    rgba.putalpha(200)
    rgba.save(tmp_path / "t.png")
    Image.fromarray(__import__("numpy").asarray(photo("camera").convert("L"))).save(
        tmp_path / "g.png")
    assert analysed(tmp_path / "t.png").ok and analysed(tmp_path / "g.png").ok
