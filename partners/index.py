"""What the partners' matching API holds in memory: the registry's hashes, growing while it serves.

Pure logic (no store, no HTTP): ``LiveIndex`` answers hash queries against the registry and takes
new registry rows while it answers. Per algorithm it keeps one ``detection.index.HammingIndex``
that is never changed once built, and a short tail of rows added since, scanned by brute force.
When the tail grows past ``max(4096, n / 256)`` rows, ``fold()`` builds a new HammingIndex of
both (the server does it in its refresh thread) and swaps it in: queries never wait for a build,
and a row added is matchable as soon as ``add`` returns. Each query reads one snapshot of the
per-algorithm state, so a swap in between does not mix two states.

``parse_queries`` validates a request's hashes (every hasher's hex form, PDQ as 64 hex digits as
ThreatExchange and StopNCII exchange it); ``opaque_id`` is the entry id a partner sees (an HMAC
of the registry row id: stable, unguessable, and no case reference); ``TokenBucket`` is the rate
limit of one token.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detection.hashing import HASHERS
from detection.index import BruteForceIndex, HammingIndex, pack_hashes
from errors import ValidationError

__all__ = [
    "MAX_QUERIES",
    "MAX_MATCHES",
    "LiveIndex",
    "Query",
    "QueryResult",
    "TokenBucket",
    "opaque_id",
    "parse_queries",
]

# The most hashes one request may ask about (HMA's bulk lookups take batches of this order).
MAX_QUERIES = 1000
# The nearest entries one query answers with; "matches" says whether there was any.
MAX_MATCHES = 10
_TAIL_MIN = 4096
# 96 bits of the HMAC: no two of a registry's entries share one in practice, and a partner cannot
# tell from it how many entries there are or which came first.
_OPAQUE_HEX = 24


@dataclass(frozen=True)
class Query:
    algorithm: str
    hash: str


@dataclass(frozen=True)
class QueryResult:
    """One query's answer: the registry rows within the algorithm's threshold, nearest first."""

    algorithm: str
    hash: str
    matches: tuple[tuple[int, int], ...]  # (registry row id, distance in bits)

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    @property
    def distance(self) -> int | None:
        return self.matches[0][1] if self.matches else None


def parse_queries(raw: Sequence[Mapping[str, object]], *, limit: int = MAX_QUERIES) -> list[Query]:
    """Check a request's hashes and return them canonical (lower-case hex), or raise
    ValidationError naming the first bad one by its position."""
    if not raw:
        raise ValidationError("partners.no_hashes",
                              "give at least one hash to match (\"hashes\": [...])")
    if len(raw) > limit:
        raise ValidationError(
            "partners.too_many_hashes",
            "a request may ask about at most {limit} hashes, got {n}; split it into batches",
            limit=limit, n=len(raw))
    out = []
    for i, item in enumerate(raw):
        alg = item.get("algorithm")
        hasher = HASHERS.get(alg) if isinstance(alg, str) else None
        if hasher is None:
            raise ValidationError(
                "partners.unknown_algorithm",
                "hash #{i}: unknown algorithm {algorithm!r}; use one of {algorithms}",
                i=i, algorithm=alg, algorithms=", ".join(sorted(HASHERS)))
        value = item.get("hash")
        try:
            text = hasher.validate_hex(value)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise ValidationError("partners.bad_hash", "hash #{i}: {problem}",
                                  i=i, problem=exc.message) from None
        out.append(Query(hasher.name, text))
    return out


def opaque_id(key: bytes, entry_id: int) -> str:
    """The registry entry id a partner sees: HMAC-SHA256 of the row id under the API's key."""
    return hmac.new(key, b"entry:%d" % entry_id, hashlib.sha256).hexdigest()[:_OPAQUE_HEX]


@dataclass(frozen=True)
class _State:
    base: HammingIndex
    tail_words: np.ndarray
    tail_ids: np.ndarray

    @property
    def n(self) -> int:
        return len(self.base) + self.tail_ids.shape[0]


class LiveIndex:
    """The registry's hashes by algorithm, matchable while rows are added (see the module doc).

    ``add`` and ``fold`` are for one writer (the server's refresh thread); ``match`` may run in
    any number of threads at once.
    """

    def __init__(self, thresholds: Mapping[str, int] | None = None) -> None:
        self._thresholds = dict(thresholds or {})
        self._states: dict[str, _State] = {}
        self._write = threading.Lock()
        self.watermark = 0  # the highest registry row id read so far

    def threshold(self, algorithm: str) -> int:
        return self._thresholds.get(algorithm, HASHERS[algorithm].threshold)

    def __len__(self) -> int:
        return sum(s.n for s in self._states.values())

    def counts(self) -> dict[str, int]:
        return {alg: s.n for alg, s in self._states.items()}

    def _empty(self, bits: int) -> np.ndarray:
        return np.zeros((0, (bits + 63) // 64), dtype=np.uint64)

    def add(self, algorithm: str, hashes: object, ids: Sequence[int] | np.ndarray) -> None:
        """Add registry rows of one algorithm (hex strings or packed words, with their row ids);
        they are matchable when this returns."""
        hasher = HASHERS[algorithm]
        words = pack_hashes(hashes, hasher.bits)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.shape[0] != words.shape[0]:
            raise ValueError(f"{words.shape[0]} hashes but {ids.shape[0]} ids")
        if not ids.shape[0]:
            return
        with self._write:
            state = self._states.get(algorithm)
            if state is None:
                state = _State(HammingIndex(self._empty(hasher.bits), hasher.bits),
                               self._empty(hasher.bits), np.zeros(0, dtype=np.int64))
            self._states[algorithm] = _State(
                state.base, np.concatenate([state.tail_words, words]),
                np.concatenate([state.tail_ids, ids]))
            self.watermark = max(self.watermark, int(ids.max()))

    def build(self, algorithm: str, hashes: object, ids: Sequence[int] | np.ndarray) -> None:
        """Index many rows of one algorithm at once (a server starting), in the indexed part."""
        self.add(algorithm, hashes, ids)
        self.fold(force=True)

    def needs_fold(self) -> bool:
        return any(s.tail_ids.shape[0] > max(_TAIL_MIN, len(s.base) // 256)
                   for s in self._states.values())

    def fold(self, *, force: bool = False) -> int:
        """Build a new HammingIndex of the indexed rows and the tail where the tail is long (or
        wherever there is one, ``force``), swapping each in when built; returns how many were."""
        folded = 0
        for alg in list(self._states):
            state = self._states[alg]
            n_tail = state.tail_ids.shape[0]
            if not n_tail or not (force or n_tail > max(_TAIL_MIN, len(state.base) // 256)):
                continue
            words, ids = state.base.rows()
            new = HammingIndex(np.concatenate([words, state.tail_words[:n_tail]]),
                               HASHERS[alg].bits, ids=np.concatenate([ids, state.tail_ids[:n_tail]]))
            with self._write:
                current = self._states[alg]  # rows added while the new index was built stay
                self._states[alg] = _State(new, current.tail_words[n_tail:],
                                           current.tail_ids[n_tail:])
            folded += 1
        return folded

    def match(self, queries: Sequence[Query], *, limit: int = MAX_MATCHES) -> list[QueryResult]:
        """Each query's registry rows within its algorithm's threshold, nearest first (at most
        ``limit``), in the order asked."""
        results: list[QueryResult | None] = [None] * len(queries)
        by_alg: dict[str, list[int]] = {}
        for i, q in enumerate(queries):
            by_alg.setdefault(q.algorithm, []).append(i)
        for alg, positions in by_alg.items():
            state = self._states.get(alg)
            if state is None:
                found: list[list[tuple[int, int]]] = [[] for _ in positions]
            else:
                radius = self.threshold(alg)
                hexes = [queries[i].hash for i in positions]
                found = state.base.search_many(hexes, radius)
                if state.tail_ids.shape[0]:
                    tail = BruteForceIndex(state.tail_words, HASHERS[alg].bits, ids=state.tail_ids)
                    for hits, more in zip(found, tail.search_many(hexes, radius)):
                        hits.extend(more)
            for i, hits in zip(positions, found):
                hits = sorted(hits, key=lambda h: (h[1], h[0]))[:limit]
                results[i] = QueryResult(alg, queries[i].hash, tuple(hits))
        return results  # type: ignore[return-value]


class TokenBucket:
    """A token bucket: ``burst`` requests at once, refilled at ``rate`` a minute.

    ``take(now)`` spends one request and returns 0.0, or returns the seconds until one is
    available (and spends nothing). ``now`` is a monotonic time in seconds, passed in.
    """

    def __init__(self, rate_per_minute: float, burst: int, now: float) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._level = float(burst)
        self._at = now

    def take(self, now: float) -> float:
        self._level = min(self.burst, self._level + max(0.0, now - self._at) * self.rate)
        self._at = max(self._at, now)
        if self._level >= 1.0:
            self._level -= 1.0
            return 0.0
        return (1.0 - self._level) / self.rate
