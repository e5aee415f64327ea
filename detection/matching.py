"""Matching analysed files against the registry: which registry items a file's hashes match.

``Matcher`` holds the registry's hashes in one ``HammingIndex`` per algorithm and the region
signatures, and decides which registry items an analysed file matches, with dscr's default
combination of algorithms: a hasher whose role is to decide flags alone, one that corroborates
only with a second algorithm (the roles and preference are declared by the hashers, see
detection.hashing), the region stage only where the hashes found nothing, and videos by enough
matching frames.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detection.analysis import Analysis, FrameHashes
from detection.hashing import CORROBORATING, DECIDING, HASHERS, PREFERENCE
from detection.index import HammingIndex
from detection.media import IMAGE, VIDEO

# A video matches a registry item when this many of its sampled frames match it (or all of its
# frames, when it has fewer; one frame for a still image in the registry).
DEFAULT_MIN_FRAMES = 2


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
    # The hashers' declared roles, chosen by bench.detection's robustness measurement: PDQ and
    # pHash each flag on their own at their thresholds; dHash and wHash count only when a second
    # algorithm agrees on the same registry item. The region stage covers what they added.
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
            # As when built: an item with a video among its entries is a video.
            if e.media_kind == VIDEO or e.item not in self._item_kind:
                self._item_kind[e.item] = e.media_kind
        for alg, rows in by_alg.items():
            hasher = HASHERS.get(alg)
            if hasher is None:
                continue
            hexes, ids = [r.hash_hex for r in rows], [r.id for r in rows]
            if alg in self._indexes:
                self._indexes[alg].add(hexes, ids)
            else:
                self._indexes[alg] = HammingIndex(hexes, hasher.bits, ids=ids)
        # As when built: a signature of no known entry would fail the lookup in _match_regions.
        self._regions += [
            (i, RegionSignature.from_bytes(s)) for i, s in regions if i in self._by_id
        ]

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
