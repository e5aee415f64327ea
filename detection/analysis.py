"""Decoding and hashing of one file at a time, and the pool of worker processes that runs it.

``analyse`` reads one listed file into memory, hashes it (images: plain and border-trimmed hashes
for queries, the dihedral variants for registry entries, and a region signature; videos: sampled
frames) and returns hashes only: the bytes are dropped when it returns. It never raises: a bad
file comes back with its reason, so a scan never stops on one file. ``run_parallel`` runs it over
a process pool (the hashing is CPU-bound pure Python and NumPy, so threads would share one core),
with a bounded number of files in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

from detection.hashing import DIHEDRAL_TRANSPOSES, HASHERS, Hasher
from detection.media import (
    IMAGE,
    UNSUPPORTED,
    VIDEO,
    classify_file,
    open_image,
    sample_frames,
    to_rgb,
    trim_borders,
)
from detection.sources import DEFAULT_LIMITS, Item, Limits, is_url, local_path, read_item
from errors import ValidationError

Mode = Literal["query", "registry"]

# Names of the eight dihedral variants, in the order of DIHEDRAL_TRANSPOSES and of PDQ's
# compute_dihedral (original, three quarter turns, two mirrorings, two diagonal flips).
VARIANT_NAMES = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flip_lr",
    "flip_tb",
    "transpose",
    "transverse",
)
if len(VARIANT_NAMES) != len(DIHEDRAL_TRANSPOSES):  # pragma: no cover - caught at import
    raise RuntimeError("variant names and dihedral transforms differ in number")
TRIMMED = "trimmed"
PLAIN = "plain"

# Decoding: JPEGs are decoded in draft mode with the short side kept at least this long (1/8 scale
# for a 12 MP photo), then everything works on a copy at most WORK_SIDE on its long side.
DRAFT_MIN_SIDE = 256
WORK_SIDE = 512


@dataclass(frozen=True)
class AnalysisOptions:
    mode: Mode = "query"
    algorithms: tuple[str, ...] = tuple(HASHERS)
    region: bool = True
    every_seconds: float = 1.0
    scene_threshold: float | None = 0.3
    max_frames: int = 300
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True)
class FrameHashes:
    """Hashes of one still image or one video frame. No pixels.

    ``hashes`` maps an algorithm to ``(variant, hex)`` pairs: for queries ``plain`` and, when
    trimming changed the image, ``trimmed``; for registry entries the eight dihedral variants
    and ``trimmed``. ``unreliable`` names algorithms whose own quality score says the hash of
    this image should not be trusted (PDQ on flat images).
    """

    index: int | None
    time: float | None
    hashes: dict[str, tuple[tuple[str, str], ...]]
    unreliable: frozenset[str] = frozenset()
    region: bytes | None = None


@dataclass(frozen=True)
class Analysis:
    """What ``analyse`` learned of one file: its digest, kind and hashes, or why it failed."""

    path: str
    digest: str | None = None
    kind: str | None = None
    frames: tuple[FrameHashes, ...] = ()
    error: str | None = None
    index: int = 0  # the item's member index (Item.index): path and index say which file it is

    @property
    def ok(self) -> bool:
        return self.error is None


# --- decoding and hashing (runs in worker processes) ------------------------------------------


def analyse(task: tuple[Item, AnalysisOptions]) -> Analysis:
    """Read and hash one file; never raises (the reason comes back in ``error``)."""
    item, options = task
    try:
        result = _analyse(item, options)
    except ValidationError as exc:
        result = Analysis(item.path, error=str(exc))
    except MemoryError:
        result = Analysis(item.path, error="not enough memory to decode it; skipped")
    except Exception as exc:  # a scan never stops on one file; the reason is kept
        result = Analysis(item.path, error=f"cannot be hashed ({type(exc).__name__}: {exc})")
    return dataclasses.replace(result, index=item.index)


def _analyse(item: Item, options: AnalysisOptions) -> Analysis:
    data = read_item(item, options.limits)
    digest = hashlib.sha256(data).hexdigest()
    kind = classify_file(data, name=item.path)
    if kind == UNSUPPORTED:
        return Analysis(
            item.path,
            digest,
            kind,
            error=(
                f"{item.path} is neither a supported image nor a video (its content starts "
                f"{data[:8].hex()}), whatever its name says; skipped"
            ),
        )
    hashers = [HASHERS[a] for a in options.algorithms]
    if kind == IMAGE:
        img = open_image(
            data, max_pixels=options.limits.max_pixels, min_side=DRAFT_MIN_SIDE, name=item.path
        )
        del data
        frame = hash_frame(img, hashers, mode=options.mode, region=options.region)
        return Analysis(item.path, digest, kind, (frame,))
    frames = tuple(_video_frames(item, data, options, hashers))
    if not frames:
        return Analysis(item.path, digest, kind, error=f"video {item.path} gave no frames")
    return Analysis(item.path, digest, VIDEO, frames)


def _video_frames(
    item: Item, data: bytes, options: AnalysisOptions, hashers: list[Hasher]
) -> Iterator[FrameHashes]:
    # PyAV reads from a path; a zip member, an upload or a URL goes to a private temporary file,
    # deleted at once.
    if item.member is None and item.data is None and not is_url(item.file):
        path, cleanup = local_path(item.file), None
    else:
        fd, path = tempfile.mkstemp(prefix="dscr-", suffix=".video")
        cleanup = path
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    del data
    try:
        for index, time, img in sample_frames(
            path,
            every_seconds=options.every_seconds,
            scene_threshold=options.scene_threshold,
            max_frames=options.max_frames,
        ):
            # Video frames are queries and registry entries alike: plain and trimmed, no
            # variants (a mirrored video is rare and 8 variants per frame would crowd the index).
            yield hash_frame(img, hashers, mode="query", region=False, index=index, time=time)
    finally:
        if cleanup is not None:
            os.unlink(cleanup)


def hash_frame(
    img,
    hashers: Sequence[Hasher],
    *,
    mode: Mode = "query",
    region: bool = True,
    index: int | None = None,
    time: float | None = None,
) -> FrameHashes:
    """Hash one decoded image with every hasher (see FrameHashes for what ``mode`` changes)."""
    img = working_copy(img)
    trimmed = trim_borders(img) if may_have_border(img) else img
    was_trimmed = trimmed.size != img.size
    hashes: dict[str, tuple[tuple[str, str], ...]] = {}
    unreliable: set[str] = set()
    for h in hashers:
        result = h.hash_with_quality(img)
        if not result.reliable:
            unreliable.add(h.name)
        if mode == "registry":
            pairs = list(zip(VARIANT_NAMES, h.hash_variants(img), strict=True))
        else:
            pairs = [(PLAIN, result.hash)]
        if was_trimmed:
            pairs.append((TRIMMED, h.hash_image(trimmed)))
        hashes[h.name] = tuple(pairs)
    signature = None
    if region:
        from detection.regions import region_signature

        signature = region_signature(trimmed, trim=False).to_bytes()
    return FrameHashes(index, time, hashes, frozenset(unreliable), signature)


def working_copy(img: Image.Image) -> Image.Image:
    """The image at most WORK_SIDE pixels on its long side, in RGB.

    Every hash looks at a 64x64 (PDQ) or smaller reduction and the region stage works at 512 px,
    so nothing they use is lost; trimming and hashing a 12 MP photo at full size costs ~20x more.
    Registry entries and queries both go through here, so they are hashed alike.
    """
    img = to_rgb(img)
    if max(img.size) <= WORK_SIDE:
        return img
    scale = WORK_SIDE / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def may_have_border(img: Image.Image, *, tolerance: int = 24, min_fraction: float = 0.97) -> bool:
    """Whether any outermost row or column is near-uniform, the first thing trim_borders needs.

    A cheap gate (four lines of pixels) in front of trim_borders, which measures runs over the
    whole image: most photos have no border and skip it. The tolerance and fraction are
    trim_borders' defaults, so the gate never skips an image it would have trimmed.
    """
    arr = np.asarray(img, dtype=np.int16)
    for line in (arr[0], arr[-1], arr[:, 0], arr[:, -1]):
        colour = np.median(line, axis=0)
        if np.all(np.abs(line - colour) <= tolerance, axis=1).mean() >= min_fraction:
            return True
    return False


# --- the worker pool --------------------------------------------------------------------------


_DONE = object()


def run_parallel(
    fn: Callable[[Any], Any],
    tasks: Iterable[Any],
    *,
    workers: int = 2,
    window: int | None = None,
    executor: Executor | None = None,
) -> Iterator[Any]:
    """``fn(task)`` for every task, in completion order, over ``workers`` processes.

    At most ``window`` tasks (default 4 per worker) are in flight, so a million-file scan does not
    queue a million futures. ``workers <= 1`` runs in this process (tests, small jobs). Worker
    processes are spawned, not forked: the parent holds database connections and native
    libraries' threads that a fork would copy. A caller that runs many batches may pass its own
    ``executor`` (see ``worker_pool``), which is left running.
    """
    if workers <= 1 and executor is None:
        for task in tasks:
            yield fn(task)
        return
    window = window or 4 * max(workers, 1)
    it = iter(tasks)
    own = executor is None
    if executor is None:
        executor = worker_pool(workers)
    pending: set = set()
    try:
        pending = {executor.submit(fn, t) for t in itertools.islice(it, window)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                # A sentinel, not None: a task that is None (or falsy) must not end the run.
                nxt = next(it, _DONE)
                if nxt is not _DONE:
                    pending.add(executor.submit(fn, nxt))
                yield fut.result()
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            for fut in pending:
                fut.cancel()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of spawned worker processes for ``run_parallel``."""
    return ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")
    )
