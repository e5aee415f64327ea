"""Decoding media for hashing: file kinds, safe decoding, border trimming, video frame sampling."""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from errors import ValidationError

Source = bytes | bytearray | memoryview | str | os.PathLike
FileKind = Literal["image", "video", "unsupported"]

IMAGE: FileKind = "image"
VIDEO: FileKind = "video"
UNSUPPORTED: FileKind = "unsupported"

# Pillow's own default (about 89.5 MP, a 24-bit 256 MB bitmap): larger declared sizes are treated
# as decompression bombs rather than photographs.
DEFAULT_MAX_PIXELS = 89_478_485
# Perceptual hashes look at a 32x32 (imagehash) or 64x64 (PDQ) reduction, so decoding a large JPEG
# at 1/2, 1/4 or 1/8 scale with the short side still at least this long loses nothing they use.
DEFAULT_MIN_SIDE = 512
# Frames bigger than this are scaled down before they leave sample_frames, to bound memory.
MAX_FRAME_SIDE = 1024

_HEADER_BYTES = 64
_ISO_IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}


def classify_file(source: Source, *, name: str | None = None) -> FileKind:
    """Say whether a file is an image, a video or unsupported, by its first bytes (not its name).

    Raises ValidationError for a missing, unreadable or empty file: there is nothing to classify.
    """
    header = _read_header(source, name)
    return _kind_from_header(header)


def _kind_from_header(h: bytes) -> FileKind:
    if h.startswith(b"\xff\xd8\xff"):
        return IMAGE
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return IMAGE
    if h.startswith(b"BM") and len(h) >= 14:
        return IMAGE
    if h[:4] in (b"II*\x00", b"MM\x00*"):
        return IMAGE
    if h[:4] == b"RIFF" and h[8:12] == b"WEBP":
        return IMAGE
    if h[:4] == b"RIFF" and h[8:12] == b"AVI ":
        return VIDEO
    if h[4:8] == b"ftyp":
        brand = h[8:12]
        if brand in _ISO_IMAGE_BRANDS:
            return IMAGE
        # Every other ISO base media brand (isom, mp41, mp42, qt, M4V, 3gp4, ...) carries video.
        return VIDEO
    if h.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska and WebM
        return VIDEO
    if h.startswith(b"FLV"):
        return VIDEO
    if h.startswith(b"\x00\x00\x01\xba") or h.startswith(
        b"\x00\x00\x01\xb3"
    ):  # MPEG program / elementary
        return VIDEO
    if len(h) > 188 and h[0] == 0x47 and h[188] == 0x47:  # MPEG transport stream sync bytes
        return VIDEO
    if h[:4] == b"OggS":
        return VIDEO
    if h[:4] == b"0&\xb2u":  # ASF / WMV
        return VIDEO
    return UNSUPPORTED


def _label(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return "<bytes>"


def _read_header(source: Source, name: str | None) -> bytes:
    label = _label(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        header = bytes(source[: max(_HEADER_BYTES, 189)])
    else:
        path = Path(source)
        if not path.is_file():
            raise ValidationError(
                "detection.file_does_not_exist",
                "file {label} does not exist or is not a regular file; check the path",
                label=label
            )
        try:
            with path.open("rb") as fh:
                header = fh.read(max(_HEADER_BYTES, 189))
        except OSError as exc:
            raise ValidationError(
                "detection.file_read_check_permissions",
                "file {label} cannot be read ({value}); check its permissions",
                label=label, value=exc.strerror or exc
            ) from exc
    if not header:
        raise ValidationError("detection.file_empty_bytes_hashed",
                              "file {label} is empty (0 bytes); it cannot be hashed, skip it",
                              label=label)
    return header


def _read_all(source: Source, label: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ValidationError(
            "detection.file_read_check_permissions",
            "file {label} cannot be read ({value}); check its permissions",
            label=label, value=exc.strerror or exc
        ) from exc


def open_image(
    source: Source,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = DEFAULT_MIN_SIDE,
    name: str | None = None,
) -> Image.Image:
    """Decode an image from bytes or a path into a loaded RGB PIL image, ready for hashing.

    - The kind is checked by magic bytes; a video, an unknown format, an empty or truncated file,
      or a corrupt one raises ValidationError with the reason.
    - A declared size above ``max_pixels`` is refused before any pixel is decoded (a bomb).
    - JPEGs are decoded in Pillow's draft mode at 1/2, 1/4 or 1/8 scale, keeping the short side at
      least ``min_side`` pixels (``min_side=None`` decodes at full size).
    - EXIF orientation is applied and transparency is composited over white, so a re-saved copy
      hashes like the original.
    The caller's bytes are not kept: only the decoded image is returned.
    """
    label = _label(source, name)
    if max_pixels <= 0:
        raise ValidationError("detection.max_pixels_positive_pixel",
                              "max_pixels must be a positive pixel count, got {max_pixels}",
                              max_pixels=max_pixels)
    header = _read_header(source, name)
    kind = _kind_from_header(header)
    if kind == VIDEO:
        raise ValidationError(
            "detection.file_video_not_image",
            "file {label} is a video, not an image; sample its frames with sample_frames()",
            label=label
        )
    if kind == UNSUPPORTED:
        raise ValidationError(
            "detection.file_not_supported_image",
            "file {label} is not a supported image (unknown content starting {hex}); supported "
            "kinds are JPEG, PNG, GIF, BMP, TIFF and WebP, whatever the file name says",
            label=label, hex=header[:8].hex()
        )
    data = _read_all(source, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width <= 0 or height <= 0:
                raise ValidationError(
                    "detection.file_declares_empty_size",
                    "file {label} declares an empty size {width}x{height}; it is corrupt",
                    label=label, width=width, height=height
                )
            if width * height > max_pixels:
                raise ValidationError(
                    "detection.file_declares_x_pixels",
                    "file {label} declares {width}x{height} = {width_2:,} pixels, above the "
                    "limit of {max_pixels:,}; it may be a decompression bomb, so it was not "
                    "decoded",
                    label=label, width=width, height=height, width_2=width * height,
                    max_pixels=max_pixels
                )
            if min_side is not None and img.format == "JPEG":
                scale = min_side / min(width, height)
                if scale < 1:
                    img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            img.load()
    except ValidationError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses sizes above twice its own limit before our check can run.
        raise ValidationError(
            "detection.file_declares_more_pixels",
            "file {label} declares more pixels than can be decoded safely ({exc}); it may be a "
            "decompression bomb, so it was not decoded",
            label=label, exc=exc
        ) from exc
    except UnidentifiedImageError as exc:
        raise ValidationError(
            "detection.file_looks_like_image",
            "file {label} looks like an image but Pillow cannot identify it; it is corrupt",
            label=label
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason:
            reason = "the file is truncated (an incomplete download or copy)"
        raise ValidationError("detection.file_decoded",
                              "file {label} cannot be decoded: {reason}",
                              label=label, reason=reason) from exc
    return to_rgb(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Return an upright RGB image: EXIF orientation applied, transparency composited over white."""
    try:
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError):
        pass  # A broken EXIF block must not stop hashing; the pixels are still usable.
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.size and arr.max() > 0 else 1.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def trim_borders(
    img: Image.Image,
    *,
    tolerance: int = 24,
    min_fraction: float = 0.97,
    max_trim: float = 0.4,
) -> Image.Image:
    """Remove uniform borders and letterboxing (white, black or any near-uniform colour).

    Each side is judged on its own: its outermost row (or column) gives the border colour, and rows
    are peeled while at least ``min_fraction`` of their pixels lie within ``tolerance`` (0..255, per
    channel) of it. This keeps JPEG ringing and a few stray pixels from stopping the trim. No side
    loses more than ``max_trim`` of the image, and an image that is uniform throughout is returned
    as it is. Registry and query images both go through this, so a photo whose own edge is flat is
    cut the same way on both sides.
    """
    if not 0 <= tolerance <= 255:
        raise ValidationError("detection.tolerance",
                              "tolerance must be 0..255, got {tolerance}",
                              tolerance=tolerance)
    if not 0 < min_fraction <= 1:
        raise ValidationError("detection.min_fraction",
                              "min_fraction must be in (0, 1], got {min_fraction}",
                              min_fraction=min_fraction)
    if not 0 <= max_trim < 0.5:
        raise ValidationError("detection.max_trim",
                              "max_trim must be in [0, 0.5), got {max_trim}",
                              max_trim=max_trim)
    rgb = to_rgb(img)
    arr = np.asarray(rgb, dtype=np.int16)
    height, width = arr.shape[:2]
    top = bottom = left = right = 0
    # Peel repeatedly: a white border round a photo whose own edge is flat sky must end where the
    # photo's own trim ends, or the copy and the original would be cut differently.
    for _ in range(4):
        view = arr[top : height - bottom, left : width - right]
        h, w = view.shape[:2]
        # Runs are measured to the far edge first, so an image uniform throughout is recognised
        # (and left alone) before each side is held to its max_trim budget.
        cut_top = _uniform_run(view, tolerance, min_fraction, h)
        cut_bottom = _uniform_run(view[::-1], tolerance, min_fraction, h)
        cols = view.transpose(1, 0, 2)
        cut_left = _uniform_run(cols, tolerance, min_fraction, w)
        cut_right = _uniform_run(cols[::-1], tolerance, min_fraction, w)
        if cut_top + cut_bottom >= h - 1 or cut_left + cut_right >= w - 1:
            break  # Uniform throughout: nothing left to call content.
        cut_top = min(cut_top, int(height * max_trim) - top)
        cut_bottom = min(cut_bottom, int(height * max_trim) - bottom)
        cut_left = min(cut_left, int(width * max_trim) - left)
        cut_right = min(cut_right, int(width * max_trim) - right)
        if cut_top == cut_bottom == cut_left == cut_right == 0:
            break
        top, bottom, left, right = (
            top + cut_top,
            bottom + cut_bottom,
            left + cut_left,
            right + cut_right,
        )
    if top == bottom == left == right == 0:
        return rgb
    return rgb.crop((left, top, width - right, height - bottom))


def _uniform_run(arr: np.ndarray, tolerance: int, min_fraction: float, limit: int) -> int:
    """Number of leading rows of ``arr`` (rows x cols x 3) that are near the first row's colour."""
    if limit <= 0:
        return 0
    colour = np.median(arr[0], axis=0)
    rows = arr[:limit]
    close = np.all(np.abs(rows - colour) <= tolerance, axis=2).mean(axis=1) >= min_fraction
    if not close[0]:
        return 0
    not_close = np.flatnonzero(~close)
    return int(not_close[0]) if not_close.size else limit


def sample_frames(
    path: str | os.PathLike,
    *,
    every_seconds: float = 1.0,
    scene_threshold: float | None = None,
    max_frames: int = 600,
) -> Iterator[tuple[int, float, Image.Image]]:
    """Yield ``(frame_index, time_seconds, image)`` for frames of a video, decoded with PyAV.

    A frame is taken at the start and then whenever ``every_seconds`` have passed since the last
    regular sample. With ``scene_threshold`` (0..1, mean absolute change of a 32x32 grey thumbnail
    between consecutive frames) a frame is also taken at each scene cut, so a short inserted clip
    is not missed between regular samples. At most ``max_frames`` frames are yielded. Frames are
    scaled down to at most MAX_FRAME_SIDE pixels on the long side.
    """
    import av  # Imported here so image-only use does not need PyAV's native libraries.

    label = os.fspath(path)
    if every_seconds <= 0:
        raise ValidationError("detection.every_seconds_positive",
                              "every_seconds must be positive, got {every_seconds}",
                              every_seconds=every_seconds)
    if scene_threshold is not None and not 0 < scene_threshold < 1:
        raise ValidationError("detection.scene_threshold",
                              "scene_threshold must be in (0, 1), got {scene_threshold}",
                              scene_threshold=scene_threshold)
    if max_frames < 1:
        raise ValidationError("detection.max_frames_least",
                              "max_frames must be at least 1, got {max_frames}",
                              max_frames=max_frames)
    kind = classify_file(path)
    if kind != VIDEO:
        raise ValidationError(
            "detection.file_not_video_content",
            "file {label} is not a video (its content says {kind}); hash it with open_image()",
            label=label, kind=kind
        )
    try:
        container = av.open(label)
    except (av.error.FFmpegError, OSError) as exc:
        raise ValidationError("detection.video_opened",
                              "video {label} cannot be opened: {exc}",
                              label=label, exc=exc) from exc
    with container:
        if not container.streams.video:
            raise ValidationError("detection.file_no_video_stream",
                                  "file {label} has no video stream; nothing to sample",
                                  label=label)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yielded = 0
        next_time = 0.0
        previous: np.ndarray | None = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                time = _frame_time(frame, stream, index)
                take = time >= next_time - 1e-6
                thumb = None
                if scene_threshold is not None:
                    thumb = (
                        np.asarray(frame.to_image().convert("L").resize((32, 32)), dtype=np.float64)
                        / 255.0
                    )
                    if previous is not None and np.abs(thumb - previous).mean() > scene_threshold:
                        take = True
                    previous = thumb
                if not take:
                    continue
                if time >= next_time - 1e-6:
                    # Step from the schedule, not from this frame, so sampling does not drift.
                    while next_time <= time + 1e-6:
                        next_time += every_seconds
                image = frame.to_image()
                if max(image.size) > MAX_FRAME_SIDE:
                    image.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
                yield index, time, image
                yielded += 1
                if yielded >= max_frames:
                    return
        except av.error.FFmpegError as exc:
            if yielded == 0:
                raise ValidationError("detection.video_decoded",
                                      "video {label} cannot be decoded: {exc}",
                                      label=label, exc=exc) from exc
            # A truncated tail still gave usable frames; stop there rather than lose them.
            return


def _frame_time(frame, stream, index: int) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return float(index / rate) if rate else float(index)
