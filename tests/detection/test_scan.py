"""Scanning without a database: safe listing of folders and zips, analysis and matching."""

from __future__ import annotations

import operator
import os
import stat
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from detection.scan import (
    Analysis,
    AnalysisOptions,
    Item,
    Limits,
    Matcher,
    RegistryEntry,
    analyse,
    list_source,
    run_parallel,
    unsafe_member_name,
)
from errors import ValidationError
from tests.detection.test_service import jpeg, photo


def entries_of(analysis: Analysis, item: str, first_id: int = 1) -> list[RegistryEntry]:
    """Registry rows for an analysed file, as the registry use case would store them."""
    out, seen = [], set()
    for frame in analysis.frames:
        for alg, pairs in frame.hashes.items():
            for _variant, hx in pairs:
                if (alg, hx) not in seen:
                    seen.add((alg, hx))
                    out.append(RegistryEntry(first_id + len(out), alg, hx, item,
                                             analysis.kind or "image"))
    return out


def analysed(path: Path, mode: str = "query", region: bool = True) -> Analysis:
    return analyse((Item(path.name, os.fspath(path)), AnalysisOptions(mode=mode, region=region)))


# --- listing ----------------------------------------------------------------------------------


def test_folder_listing_skips_links_that_leave_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(jpeg(photo("rocket")))
    root = tmp_path / "uploads"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(jpeg(photo("coffee")))
    (root / "sub" / "b.jpg").write_bytes(jpeg(photo("chelsea")))
    os.symlink(outside / "secret.jpg", root / "link.jpg")
    os.symlink(outside, root / "linkdir")
    os.symlink(root / "a.jpg", root / "inside.jpg")
    items, refused = list_source(root)
    assert [i.path for i in items] == ["a.jpg", "inside.jpg", "sub/b.jpg"]
    reasons = {r.path: r.reason for r in refused}
    assert set(reasons) == {"link.jpg", "linkdir"}
    assert "outside the scanned folder" in reasons["link.jpg"]
    assert "outside the scanned folder" in reasons["linkdir"]


def test_folder_listing_refuses_oversized_files_and_too_many_files(tmp_path):
    (tmp_path / "big.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 5000)
    (tmp_path / "small.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 3000)
    items, refused = list_source(tmp_path, Limits(max_file_bytes=4000))
    assert [i.path for i in items] == ["small.jpg"]
    assert refused[0].path == "big.jpg" and "above the limit of 4,000" in refused[0].reason
    with pytest.raises(ValidationError, match="scan it in parts"):
        list_source(tmp_path, Limits(max_members=1))


@pytest.mark.parametrize("name,bad", [
    ("a/b.jpg", False), ("../x.jpg", True), ("a/../../x.jpg", True), ("/etc/x.jpg", True),
    ("C:/x.jpg", True), ("a\\..\\..\\x.jpg", True), ("a..b.jpg", False),
])
def test_unsafe_member_names_are_recognised(name, bad):
    assert (unsafe_member_name(name) is not None) == bad


def test_zip_listing_refuses_traversal_links_and_bombs_member_by_member(tmp_path):
    archive = tmp_path / "u.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.jpg", jpeg(photo("coffee")))
        zf.writestr("../escape.jpg", jpeg(photo("coffee")))
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("inflates.jpg", b"\0" * (3 * 2**20))
        # Enough incompressible bytes that the archive as a whole is not a bomb.
        zf.writestr("noise.bin", os.urandom(2**20))
    items, refused = list_source(archive)
    assert [i.path for i in items] == ["noise.bin", "ok.jpg"]
    reasons = {r.path: r.reason for r in refused}
    assert "path traversal" in reasons["../escape.jpg"]
    assert "symbolic link" in reasons["link.jpg"]
    assert "decompression bomb" in reasons["inflates.jpg"]


def test_a_zip_bomb_or_an_archive_with_too_many_members_is_refused_whole(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(4):
            zf.writestr(f"{i}.jpg", b"\0" * (8 * 2**20))
    with pytest.raises(ValidationError, match="zip bomb"):
        list_source(bomb)
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.jpg", b"x")
    with pytest.raises(ValidationError, match="5 members, above the limit of 4"):
        list_source(many, Limits(max_members=4))


def test_a_member_larger_than_it_declares_is_not_read_past_the_limit(tmp_path):
    archive = tmp_path / "liar.zip"
    payload = jpeg(photo("coffee"))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", payload)
    limits = Limits(max_file_bytes=len(payload) - 1)
    result = analyse((Item("a.jpg", os.fspath(archive), "a.jpg"), AnalysisOptions(limits=limits)))
    assert result.error is not None and "more than" in result.error


# --- analysis and matching --------------------------------------------------------------------


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


def test_matcher_prefers_pdq_and_falls_back_to_regions_only_when_hashes_find_nothing(tmp_path):
    reg = tmp_path / "reg.jpg"
    reg.write_bytes(jpeg(photo("chelsea"), 95))
    registered = analysed(reg, mode="registry")
    matcher = Matcher(entries_of(registered, "case-1"), [(1, registered.frames[0].region)])
    pdq_entry_ids = {e.id for e in matcher.entries if e.algorithm == "pdq"}

    copy = tmp_path / "copy.jpg"
    copy.write_bytes(jpeg(ImageOps.mirror(photo("chelsea")), 50))
    [m] = matcher.match(analysed(copy))
    assert m.item == "case-1" and m.algorithm == "pdq" and m.entry_id in pdq_entry_ids
    assert m.distance <= 31

    cropped = tmp_path / "cropped.jpg"
    img = photo("chelsea")
    cropped.write_bytes(jpeg(img.crop((40, 30, img.width - 40, img.height - 30))))
    [m] = matcher.match(analysed(cropped))
    assert m.algorithm == "orb-ransac-v1" and m.entry_id == 1 and m.inliers >= 12

    other = tmp_path / "other.jpg"
    other.write_bytes(jpeg(photo("astronaut")))
    assert matcher.match(analysed(other)) == []
    assert Matcher([], []).match(analysed(copy)) == []


def test_dhash_or_whash_alone_does_not_flag_but_counts_with_a_second_algorithm():
    m = Matcher([])
    assert m.accepted({"whash": (1, 3)}) is None
    assert m.accepted({"dhash": (1, 3)}) is None
    assert m.accepted({"whash": (1, 3), "dhash": (2, 9)}) == ("dhash", 2, 9)
    assert m.accepted({"phash": (5, 9)}) == ("phash", 5, 9)
    assert m.accepted({"phash": (3, 4), "pdq": (4, 20)}) == ("pdq", 4, 20)


def _video(path: Path, scenes: list[tuple[str, float]], size=(256, 192), fps: int = 10) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for name, seconds in scenes:
            frame_img = photo(name).resize(size)
            for _ in range(round(seconds * fps)):
                for packet in stream.encode(av.VideoFrame.from_image(frame_img)):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_video_matches_when_enough_frames_match_and_names_them(tmp_path):
    original = _video(tmp_path / "orig.mp4", [("astronaut", 2.0), ("coffee", 2.0)])
    registered = analysed(original, mode="registry", region=False)
    assert registered.kind == "video" and len(registered.frames) >= 4
    still = tmp_path / "rocket.jpg"
    still.write_bytes(jpeg(photo("rocket")))
    entries = entries_of(registered, "video-case")
    entries += entries_of(analysed(still, mode="registry", region=False), "rocket-case",
                          first_id=len(entries) + 1)
    matcher = Matcher(entries)

    # A re-encoded, smaller clip that starts with 1 s of another photo, then the coffee scene.
    clip = _video(tmp_path / "clip.mp4", [("china", 1.0), ("coffee", 2.0)], size=(192, 144))
    [m] = matcher.match(analysed(clip))
    assert m.item == "video-case" and m.frames is not None and len(m.frames) >= 2
    assert all(f["time"] >= 1.0 for f in m.frames)  # the china second matched nothing
    assert {"frame", "time", "algorithm", "distance"} <= set(m.frames[0])

    # One frame of a registered still image is enough; an unrelated video matches nothing.
    with_still = _video(tmp_path / "still.mp4", [("china", 1.0), ("rocket", 1.0)])
    assert [x.item for x in matcher.match(analysed(with_still))] == ["rocket-case"]
    unrelated = _video(tmp_path / "other.mp4", [("china", 1.0), ("flower", 1.0)])
    assert matcher.match(analysed(unrelated)) == []


def test_run_parallel_gives_every_result_in_one_or_two_processes():
    # A builtin, so the spawned workers need not import this test module.
    assert sorted(run_parallel(operator.neg, range(20), workers=2, window=3)) == list(
        range(-19, 1))
    assert list(run_parallel(operator.neg, [1, 2], workers=1)) == [-1, -2]


def test_transparent_png_and_grey_images_are_analysed(tmp_path):
    rgba = photo("coffee").convert("RGBA")
    rgba.putalpha(200)
    rgba.save(tmp_path / "t.png")
    Image.fromarray(__import__("numpy").asarray(photo("camera").convert("L"))).save(
        tmp_path / "g.png")
    assert analysed(tmp_path / "t.png").ok and analysed(tmp_path / "g.png").ok
