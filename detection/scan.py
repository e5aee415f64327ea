"""Scanning without a database: safe listing of folders and zips, parallel hashing, matching.

Everything here is plain data in, plain data out, so the same code serves the scan use case, the
registry use case and the benchmark:

- ``list_source`` lists the files of a folder, a zip or a single file, refusing what must not be
  read (paths that climb out of the archive, links that leave the folder, oversized members,
  zip bombs) with a reason per file, or for the whole archive when it is a bomb.
- ``analyse`` reads one file into memory, hashes it (images: plain and border-trimmed hashes for
  queries, the dihedral variants for registry entries, and a region signature; videos: sampled
  frames) and returns hashes only: the bytes are dropped when it returns. It never raises: a bad
  file comes back with its reason, so a scan never stops on one file.
- ``run_parallel`` runs ``analyse`` over a process pool (the hashing is CPU-bound pure Python and
  NumPy, so threads would share one core), with a bounded number of files in flight.
- ``Matcher`` holds the registry's hashes in one ``HammingIndex`` per algorithm and region
  signatures, and decides which registry items an analysed file matches, with dscr's default
  combination of algorithms (``DECIDING`` alone, ``CORROBORATING`` only with a second algorithm,
  the region stage only where the hashes found nothing, videos by enough matching frames).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import multiprocessing
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
from PIL import Image

from detection.hashing import DIHEDRAL_TRANSPOSES, HASHERS, Hasher
from detection.index import HammingIndex
from detection.media import (
    DEFAULT_MAX_PIXELS,
    to_rgb,
    IMAGE,
    UNSUPPORTED,
    VIDEO,
    classify_file,
    open_image,
    sample_frames,
    trim_borders,
)
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

# dscr's default combination, chosen by bench.detection's robustness measurement: PDQ and pHash
# each flag on their own at their thresholds; dHash and wHash, which each matched a cropped
# distractor photo on their own (bench --quick: FPR 0.17 at crop 10% and 5%), count only when a
# second algorithm agrees on the same registry item. The region stage covers what they added.
DECIDING: tuple[str, ...] = ("pdq", "phash")
CORROBORATING: tuple[str, ...] = ("dhash", "whash")
# The order in which a flag names the algorithm that found it (the most specific first).
PREFERENCE: tuple[str, ...] = ("pdq", "phash", "dhash", "whash")
# Decoding: JPEGs are decoded in draft mode with the short side kept at least this long (1/8 scale
# for a 12 MP photo), then everything works on a copy at most WORK_SIDE on its long side.
DRAFT_MIN_SIDE = 256
WORK_SIDE = 512
# A video matches a registry item when this many of its sampled frames match it (or all of its
# frames, when it has fewer; one frame for a still image in the registry).
DEFAULT_MIN_FRAMES = 2


@dataclass(frozen=True)
class Limits:
    """What a scan agrees to read. Bigger files or archives are refused with the reason."""

    max_file_bytes: int = 512 * 2**20
    max_members: int = 20_000
    max_total_bytes: int = 8 * 2**30
    # Photos and videos barely compress; a member that inflates more than this is a bomb.
    max_ratio: float = 100.0
    max_pixels: int = DEFAULT_MAX_PIXELS


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Item:
    """One file to analyse: its label in the report, and where its bytes are.

    ``data`` holds an upload in memory (the file itself, or the zip holding ``member``); it is
    never written to disk, except a video's bytes for PyAV, in a temporary file deleted at once.
    """

    path: str
    file: str  # a file on disk, or the zip archive holding the member (for an upload, its name)
    member: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Refused:
    """A file that is not read, with the reason."""

    path: str
    reason: str


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

    @property
    def ok(self) -> bool:
        return self.error is None


# --- listing ----------------------------------------------------------------------------------


def list_source(
    source: str | os.PathLike, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Item], list[Refused]]:
    """Files of a folder (recursively), a zip archive or a single file, sorted by path.

    Raises ValidationError when the source is missing or when a zip is refused as a whole (not
    a zip, too many members, or a decompression bomb).
    """
    root = Path(source)
    if not root.exists():
        raise ValidationError(f"{os.fspath(source)} does not exist; give a folder, a zip or a file")
    if root.is_dir():
        return _list_folder(root, limits)
    if zipfile.is_zipfile(root):
        return _list_zip(root, limits)
    if not root.is_file():
        raise ValidationError(f"{os.fspath(source)} is not a regular file, folder or zip")
    size = root.stat().st_size
    if size > limits.max_file_bytes:
        return [], [Refused(root.name, _too_big(size, limits))]
    return [Item(root.name, os.fspath(root))], []


def _too_big(size: int, limits: Limits) -> str:
    return (
        f"the file is {size:,} bytes, above the limit of {limits.max_file_bytes:,}; "
        "it was not read"
    )


def _list_folder(root: Path, limits: Limits) -> tuple[list[Item], list[Refused]]:
    real_root = root.resolve()
    items: list[Item] = []
    refused: list[Refused] = []

    def inside(p: str) -> bool:
        try:
            Path(os.path.realpath(p)).relative_to(real_root)
        except ValueError:
            return False
        return True

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                rel = Path(full).relative_to(root).as_posix()
                reason = (
                    "a link to a folder outside the scanned folder; not followed"
                    if not inside(full)
                    else "a link to another folder inside the scanned folder; not followed "
                    "(its files are scanned where they are)"
                )
                refused.append(Refused(rel, reason))
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = Path(full).relative_to(root).as_posix()
            if os.path.islink(full) and not inside(full):
                refused.append(Refused(rel, "a link to a file outside the scanned folder; skipped"))
                continue
            try:
                st = os.stat(full)
            except OSError as exc:
                refused.append(Refused(rel, f"cannot be read ({exc.strerror or exc})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                refused.append(Refused(rel, "not a regular file (a device, socket or pipe)"))
                continue
            if st.st_size > limits.max_file_bytes:
                refused.append(Refused(rel, _too_big(st.st_size, limits)))
                continue
            items.append(Item(rel, full))
    if len(items) + len(refused) > limits.max_members:
        raise ValidationError(
            f"{os.fspath(root)} holds {len(items) + len(refused):,} files, above the limit of "
            f"{limits.max_members:,}; scan it in parts"
        )
    items.sort(key=lambda i: i.path)
    return items, refused


def unsafe_member_name(name: str) -> str | None:
    """Why a zip member's name must not be used (absolute, drive letter, '..'), or None."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return "an absolute path inside the archive (path traversal); refused"
    if any(part == ".." for part in PurePosixPath(text).parts):
        return "a path climbing out of the archive with '..' (path traversal); refused"
    if "\x00" in text:
        return "a name with a NUL character; refused"
    return None


def list_upload(
    name: str, data: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Item], list[Refused]]:
    """``list_source`` for an upload held in memory: a zip (the same checks) or a single file."""
    label = PurePosixPath((name or "upload").replace("\\", "/")).name or "upload"
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _list_zip(Path(label), limits, data=data)
    if len(data) > limits.max_file_bytes:
        return [], [Refused(label, _too_big(len(data), limits))]
    return [Item(label, label, data=data)], []


def _list_zip(
    path: Path, limits: Limits, data: bytes | None = None
) -> tuple[list[Item], list[Refused]]:
    label = path.name
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(f"{label} is not a readable zip archive ({exc})") from exc
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_members:
        raise ValidationError(
            f"{label} holds {len(files):,} members, above the limit of {limits.max_members:,}; "
            "it was refused (split it into smaller archives)"
        )
    declared = sum(i.file_size for i in files)
    packed = sum(i.compress_size for i in files)
    if declared > limits.max_total_bytes or (
        declared > 2**20 and declared > limits.max_ratio * max(packed, 1)
    ):
        raise ValidationError(
            f"{label} declares {declared:,} bytes uncompressed from {packed:,} packed "
            f"(limit {limits.max_total_bytes:,} bytes, ratio {limits.max_ratio:g}); "
            "it looks like a zip bomb and was refused"
        )
    items: list[Item] = []
    refused: list[Refused] = []
    seen: set[str] = set()
    for info in files:
        name = info.filename
        reason = unsafe_member_name(name)
        mode = info.external_attr >> 16
        if reason is None and stat.S_ISLNK(mode):
            reason = "a symbolic link inside the archive; refused"
        if reason is None and info.flag_bits & 0x1:
            reason = "an encrypted member; it cannot be read without its password"
        if reason is None and info.file_size > limits.max_file_bytes:
            reason = _too_big(info.file_size, limits)
        if reason is None and info.file_size > 2**20 and (
            info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            reason = (
                f"inflates {info.file_size / max(info.compress_size, 1):,.0f} times; "
                "a decompression bomb, refused"
            )
        if reason is None and name in seen:
            reason = "a second member with the same name; refused"
        seen.add(name)
        if reason is not None:
            refused.append(Refused(name, reason))
        else:
            items.append(Item(name, os.fspath(path), name, data=data))
    items.sort(key=lambda i: i.path)
    return items, refused


def read_item(item: Item, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of one file, never more than the limit whatever its header declares."""
    cap = limits.max_file_bytes
    try:
        if item.member is None and item.data is not None:
            data = item.data[: cap + 1]
        elif item.member is None:
            with open(item.file, "rb") as fh:
                data = fh.read(cap + 1)
        else:
            archive = item.file if item.data is None else io.BytesIO(item.data)
            with zipfile.ZipFile(archive) as zf, zf.open(item.member) as fh:
                data = fh.read(cap + 1)
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise ValidationError(f"{item.path} cannot be read ({exc})") from exc
    if len(data) > cap:
        raise ValidationError(
            f"{item.path} holds more than {cap:,} bytes (more than it declared); it was not read"
        )
    return data


# --- analysis (runs in worker processes) ------------------------------------------------------


def analyse(task: tuple[Item, AnalysisOptions]) -> Analysis:
    """Read and hash one file; never raises (the reason comes back in ``error``)."""
    item, options = task
    try:
        return _analyse(item, options)
    except ValidationError as exc:
        return Analysis(item.path, error=str(exc))
    except MemoryError:
        return Analysis(item.path, error="not enough memory to decode it; skipped")
    except Exception as exc:  # a scan never stops on one file; the reason is kept
        return Analysis(item.path, error=f"cannot be hashed ({type(exc).__name__}: {exc})")


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
    # PyAV reads from a path; a zip member or an upload goes to a private temporary file,
    # deleted at once.
    if item.member is None and item.data is None:
        path, cleanup = item.file, None
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
                nxt = next(it, None)
                if nxt is not None:
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


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryEntry:
    """One registry hash as the matcher sees it. ``item`` groups the hashes of one image/video."""

    id: int
    algorithm: str
    hash_hex: str
    item: Hashable
    media_kind: str = "image"


@dataclass(frozen=True)
class Match:
    """A registry item an analysed file matches, through one entry and one algorithm.

    ``distance`` is in bits (None for the region stage, which counts ``inliers`` instead);
    ``frames`` lists, for a video, the matching frames with their times.
    """

    entry_id: int
    item: Hashable
    algorithm: str
    distance: int | None
    frames: tuple[dict[str, Any], ...] | None = None
    inliers: int | None = None


@dataclass
class Matcher:
    """The registry in memory: a HammingIndex per algorithm and the region signatures."""

    entries: Sequence[RegistryEntry]
    regions: Sequence[tuple[int, bytes]] = ()
    deciding: tuple[str, ...] = DECIDING
    corroborating: tuple[str, ...] = CORROBORATING
    min_frames: int = DEFAULT_MIN_FRAMES
    use_regions: bool = True
    thresholds: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from detection.regions import RegionSignature

        self._by_id = {e.id: e for e in self.entries}
        self._indexes: dict[str, HammingIndex] = {}
        self._item_kind: dict[Hashable, str] = {}
        by_alg: dict[str, list[RegistryEntry]] = {}
        for e in self.entries:
            by_alg.setdefault(e.algorithm, []).append(e)
            if e.media_kind == VIDEO or e.item not in self._item_kind:
                self._item_kind[e.item] = e.media_kind
        for alg, rows in by_alg.items():
            hasher = HASHERS.get(alg)
            if hasher is None:
                continue  # an algorithm imported from a hash list that dscr cannot compute
            self._indexes[alg] = HammingIndex(
                [r.hash_hex for r in rows], hasher.bits, ids=[r.id for r in rows]
            )
        self._regions = [
            (entry_id, RegionSignature.from_bytes(sig))
            for entry_id, sig in self.regions
            if entry_id in self._by_id
        ]

    def add(self, entries: Sequence[RegistryEntry], regions: Sequence[tuple[int, bytes]] = ()):
        """Add registry rows without rebuilding (HammingIndex folds them in as they grow)."""
        from detection.regions import RegionSignature

        by_alg: dict[str, list[RegistryEntry]] = {}
        for e in entries:
            self._by_id[e.id] = e
            by_alg.setdefault(e.algorithm, []).append(e)
            self._item_kind.setdefault(e.item, e.media_kind)
        for alg, rows in by_alg.items():
            hasher = HASHERS.get(alg)
            if hasher is None:
                continue
            hexes, ids = [r.hash_hex for r in rows], [r.id for r in rows]
            if alg in self._indexes:
                self._indexes[alg].add(hexes, ids)
            else:
                self._indexes[alg] = HammingIndex(hexes, hasher.bits, ids=ids)
        self._regions += [(i, RegionSignature.from_bytes(s)) for i, s in regions]

    def threshold(self, algorithm: str) -> int:
        return self.thresholds.get(algorithm, HASHERS[algorithm].threshold)

    def frame_hits(self, frame: FrameHashes) -> dict[Hashable, dict[str, tuple[int, int]]]:
        """Per registry item, per algorithm: the (entry id, distance) nearest this frame.

        Plain and trimmed query hashes are both searched and the smaller distance is kept.
        """
        hits: dict[Hashable, dict[str, tuple[int, int]]] = {}
        for alg, pairs in frame.hashes.items():
            index = self._indexes.get(alg)
            if index is None or alg in frame.unreliable or not pairs:
                continue
            found = index.search_many([hx for _v, hx in pairs], self.threshold(alg))
            for results in found:
                for entry_id, dist in results:
                    item = self._by_id[entry_id].item
                    best = hits.setdefault(item, {}).get(alg)
                    if best is None or (dist, entry_id) < (best[1], best[0]):
                        hits[item][alg] = (entry_id, dist)
        return hits

    def accepted(self, per_alg: dict[str, tuple[int, int]]) -> tuple[str, int, int] | None:
        """dscr's combination: (algorithm, entry id, distance) when the item counts as matched."""
        if not any(a in self.deciding for a in per_alg):
            if not (
                any(a in self.corroborating for a in per_alg) and len(per_alg) >= 2
            ):
                return None
        for alg in (*PREFERENCE, *sorted(per_alg)):
            if alg in per_alg:
                entry_id, dist = per_alg[alg]
                return alg, entry_id, dist
        return None  # pragma: no cover - per_alg is not empty here

    def match(self, analysis: Analysis) -> list[Match]:
        """The registry items this file matches (empty for a clear file or an error)."""
        if not analysis.ok or not analysis.frames:
            return []
        if analysis.kind == VIDEO:
            return self._match_video(analysis.frames)
        frame = analysis.frames[0]
        matches = []
        for item, per_alg in self.frame_hits(frame).items():
            chosen = self.accepted(per_alg)
            if chosen is not None:
                alg, entry_id, dist = chosen
                matches.append(Match(entry_id, item, alg, dist))
        if not matches and self.use_regions and frame.region is not None:
            matches = self._match_regions(frame.region)
        return sorted(matches, key=lambda m: (m.distance is None, m.distance or 0, m.entry_id))

    def _match_regions(self, signature: bytes) -> list[Match]:
        from detection.regions import RegionSignature, match_regions

        if not self._regions:
            return []
        query = RegionSignature.from_bytes(signature)
        best: dict[Hashable, Match] = {}
        for entry_id, reg in self._regions:
            result = match_regions(query, reg)
            if not result.matched:
                continue
            item = self._by_id[entry_id].item
            inliers = int(result.score)
            if item not in best or inliers > (best[item].inliers or 0):
                best[item] = Match(entry_id, item, reg.algorithm, None, None, inliers)
        return list(best.values())

    def _match_video(self, frames: Sequence[FrameHashes]) -> list[Match]:
        per_item: dict[Hashable, list[tuple[FrameHashes, str, int, int]]] = {}
        for frame in frames:
            for item, per_alg in self.frame_hits(frame).items():
                chosen = self.accepted(per_alg)
                if chosen is not None:
                    per_item.setdefault(item, []).append((frame, *chosen))
        matches = []
        for item, hits in per_item.items():
            need = 1 if self._item_kind.get(item) == IMAGE else min(self.min_frames, len(frames))
            if len(hits) < need:
                continue
            rank = {a: i for i, a in enumerate(PREFERENCE)}
            _f, alg, entry_id, dist = min(
                hits, key=lambda h: (rank.get(h[1], len(rank)), h[3], h[2])
            )
            detail = tuple(
                {
                    "frame": f.index,
                    "time": None if f.time is None else round(f.time, 3),
                    "algorithm": a,
                    "distance": d,
                }
                for f, a, _e, d in sorted(hits, key=lambda h: h[0].index or 0)
            )
            matches.append(Match(entry_id, item, alg, dist, detail))
        return sorted(matches, key=lambda m: (m.distance or 0, m.entry_id))

