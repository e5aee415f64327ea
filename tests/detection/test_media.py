"""Decoding, bad-file handling, border trimming and video frame sampling."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

import pytest
import skimage.data
from PIL import Image

from detection.hashing import get_hasher
from detection.media import classify_file, open_image, sample_frames, trim_borders
from errors import ValidationError


@cache
def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def framed(img: Image.Image, left: int, top: int, right: int, bottom: int, colour) -> Image.Image:
    canvas = Image.new("RGB", (img.width + left + right, img.height + top + bottom), colour)
    canvas.paste(img, (left, top))
    return canvas


# ---- classification by content -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_classify_file_recognises_image_formats_by_magic_bytes(fmt):
    assert classify_file(encode(photo("coffee").resize((64, 48)), fmt)) == "image"


def test_classify_file_ignores_the_extension(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is a text file, not a photograph\n")
    assert classify_file(fake) == "unsupported"
    real = tmp_path / "notes.txt"
    real.write_bytes(encode(photo("coffee"), "PNG"))
    assert classify_file(real) == "image"


def test_classify_file_recognises_common_video_containers():
    assert classify_file(b"\x00\x00\x00\x18ftypmp42" + bytes(16)) == "video"
    assert classify_file(b"\x00\x00\x00\x18ftypheic" + bytes(16)) == "image"  # HEIF photo, same box
    assert classify_file(b"\x1a\x45\xdf\xa3" + bytes(20)) == "video"  # Matroska / WebM
    assert classify_file(b"RIFF\x00\x00\x00\x00AVI LIST") == "video"


# ---- bad files -----------------------------------------------------------------------------


def test_truncated_jpeg_is_refused_with_a_reason():
    data = encode(photo("astronaut"), "JPEG", quality=90)
    with pytest.raises(ValidationError, match="truncated"):
        open_image(data[: len(data) // 2], name="cut.jpg")


def test_zero_byte_file_is_refused(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match=r"empty\.jpg is empty \(0 bytes\)"):
        open_image(empty)
    with pytest.raises(ValidationError, match="empty"):
        classify_file(b"")


def test_text_file_named_jpg_is_refused(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("hello, I am not an image\n")
    with pytest.raises(ValidationError, match="not a supported image"):
        get_hasher("pdq").hash_path(fake)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        open_image(tmp_path / "nowhere.png")


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` but whose data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png_declaring(50_000, 50_000)  # 2.5 G pixels declared in 80 bytes
    assert len(bomb) < 200
    with pytest.raises(
        ValidationError, match=r"bomb\.png declares more pixels.*decompression bomb"
    ):
        open_image(bomb, name="bomb.png")
    # Below Pillow's own hard stop but above dscr's limit: refused with the declared size.
    with pytest.raises(
        ValidationError, match="12000x10000 = 120,000,000 pixels.*decompression bomb"
    ):
        open_image(_png_declaring(12_000, 10_000), name="big.png")
    # The limit is the caller's: a modest image above a small limit is refused the same way.
    with pytest.raises(ValidationError, match="above the limit of 10,000"):
        open_image(encode(photo("coffee"), "PNG"), max_pixels=10_000)


def test_video_handed_to_open_image_is_refused_with_advice(tmp_path):
    path = _make_video(tmp_path, [("astronaut", 1.0)])
    with pytest.raises(ValidationError, match="is a video.*sample_frames"):
        open_image(path)


def test_open_image_applies_exif_orientation_and_flattens_transparency():
    img = photo("coffee").resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers turn it 90 degrees clockwise
    opened = open_image(encode(img, "JPEG", quality=95, exif=exif.tobytes()))
    assert opened.size == (80, 120)
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert open_image(encode(rgba, "PNG")).getpixel((5, 5)) == (255, 255, 255)


# ---- border trimming -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["astronaut", "coffee", "rocket", "camera"])
def test_trim_borders_undoes_a_5_percent_white_border(name):
    img = photo(name)
    bw, bh = round(img.width * 0.05), round(img.height * 0.05)
    copy = open_image(encode(framed(img, bw, bh, bw, bh, (255, 255, 255)), "JPEG", quality=85))
    pdq = get_hasher("pdq")
    reference = trim_borders(img)  # the registry trims its originals the same way
    trimmed = trim_borders(copy)
    # Within 2 px of the original per side (JPEG blurs the edge), and PDQ back within threshold.
    assert abs(trimmed.width - reference.width) <= 4 and abs(trimmed.height - reference.height) <= 4
    assert pdq.distance(pdq.hash_image(copy), pdq.hash_image(reference)) > pdq.threshold
    assert pdq.distance(pdq.hash_image(trimmed), pdq.hash_image(reference)) <= pdq.threshold


@pytest.mark.parametrize("colour", [(0, 0, 0), (30, 90, 200)], ids=["black", "blue"])
def test_trim_borders_undoes_letterboxing_in_any_uniform_colour(colour):
    img = photo("chelsea")
    bar = round(img.height * 0.2)
    boxed = open_image(encode(framed(img, 0, bar, 0, bar, colour), "JPEG", quality=85))
    trimmed = trim_borders(boxed)
    assert abs(trimmed.width - img.width) <= 2 and abs(trimmed.height - img.height) <= 4
    pdq = get_hasher("pdq")
    assert pdq.distance(pdq.hash_image(trimmed), pdq.hash_image(img)) <= pdq.threshold


def test_trim_borders_leaves_photos_without_borders_and_flat_images_alone():
    img = photo("astronaut")
    assert trim_borders(img).size == img.size
    flat = Image.new("RGB", (50, 40), (255, 255, 255))
    assert trim_borders(flat).size == (50, 40)


def test_trim_borders_validates_its_tolerance():
    with pytest.raises(ValidationError, match="tolerance must be 0..255, got 300"):
        trim_borders(photo("coffee"), tolerance=300)


# ---- video sampling ------------------------------------------------------------------------


def _make_video(tmp_path, scenes: list[tuple[str, float]], fps: int = 10):
    """Encode a small H.264 MP4 showing each package photo for the given seconds."""
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 256, 192, "yuv420p"
        for name, seconds in scenes:
            frame_img = photo(name).resize((256, 192))
            for _ in range(round(seconds * fps)):
                for packet in stream.encode(av.VideoFrame.from_image(frame_img)):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_sample_frames_takes_one_frame_per_second_showing_the_right_photo(tmp_path):
    path = _make_video(tmp_path, [("astronaut", 2.0), ("coffee", 2.0)])
    assert classify_file(path) == "video"
    frames = list(sample_frames(path, every_seconds=1.0))
    assert [index for index, _, _ in frames] == [0, 10, 20, 30]
    assert [t for _, t, _ in frames] == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=1e-6)
    pdq = get_hasher("pdq")
    expected = {n: pdq.hash_image(photo(n).resize((256, 192))) for n in ("astronaut", "coffee")}
    shown = ["astronaut", "astronaut", "coffee", "coffee"]
    for (_, _, img), name in zip(frames, shown, strict=True):
        assert pdq.distance(pdq.hash_image(img), expected[name]) <= pdq.threshold


def test_sample_frames_adds_scene_cuts_and_respects_max_frames(tmp_path):
    path = _make_video(tmp_path, [("astronaut", 1.5), ("coffee", 1.5)])
    cuts = list(sample_frames(path, every_seconds=10.0, scene_threshold=0.1))
    assert [round(t, 6) for _, t, _ in cuts] == [0.0, 1.5]
    assert len(list(sample_frames(path, every_seconds=0.1, max_frames=5))) == 5


def test_sample_frames_refuses_an_image_and_a_broken_video(tmp_path):
    still = tmp_path / "still.mp4"
    still.write_bytes(encode(photo("coffee"), "PNG"))
    with pytest.raises(ValidationError, match="not a video"):
        list(sample_frames(still))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(40))
    with pytest.raises(ValidationError, match="cannot be"):
        list(sample_frames(broken))
