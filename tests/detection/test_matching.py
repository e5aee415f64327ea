"""Matching analysed files against registry hashes: deciding and corroborating hashers, regions, videos."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageOps

from detection.analysis import Analysis, FrameHashes
from detection.matching import Matcher, RegistryEntry
from tests.detection.test_analysis import analysed
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


def _frames(*hexes: str):
    return tuple(FrameHashes(i, float(i), {"phash": (("plain", hx),)}) for i, hx in enumerate(hexes))


def test_adding_entries_to_a_matcher_matches_like_building_it_with_them(tmp_path):
    zero, far = "0" * 16, "f" * 16
    still = RegistryEntry(1, "phash", zero, "item-x", "image")
    clip = RegistryEntry(2, "phash", "0" * 15 + "1", "item-x", "video")
    # A video of which one frame of two matches: enough for a still image, not for a video.
    query = Analysis("q.mp4", "d" * 64, "video", _frames(zero, far))
    built = Matcher([still, clip])
    grown = Matcher([still])
    grown.add([clip])
    assert built.match(query) == grown.match(query) == []
    assert [m.item for m in Matcher([still]).match(query)] == ["item-x"]

    # A region signature of no known entry is ignored, as when built, instead of failing.
    photo_path = tmp_path / "coffee.jpg"
    photo_path.write_bytes(jpeg(photo("coffee")))
    query = analysed(photo_path)
    grown = Matcher([])
    grown.add([], [(99, query.frames[0].region)])
    assert grown.match(query) == Matcher([], [(99, query.frames[0].region)]).match(query) == []
