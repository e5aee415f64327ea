"""Exact Hamming-radius search over the perceptual hashes of the registry of past cases.

Two indexes with one interface (STYLE.md: brute force is the reference every faster index is
tested against):

- ``BruteForceIndex``: the hashes as uint64 words; a query XORs every row and counts bits with
  ``np.bitwise_count``. Linear in the registry size, no build cost.
- ``HammingIndex``: multi-index hashing (Norouzi, Punjani & Fleet, "Fast exact search in Hamming
  space with multi-index hashing", TPAMI 2014). The hash is cut into chunks; if a registry hash
  lies within ``r`` of the query and chunk ``i`` is searched with radius ``r_i``, then
  ``sum(r_i + 1) >= r + 1`` guarantees (pigeonhole) that at least one chunk is within its
  ``r_i``. Each chunk has a bucket table (CSR: ``offsets[key] .. offsets[key + 1]`` into a row
  permutation); a query enumerates the chunk keys within ``r_i`` bits of its own, gathers the
  buckets and verifies every candidate by its full distance, so results are exact.
  The chunk layout (chunks per 64-bit word) is chosen at build time and the per-chunk radii at
  query time, both by a cost model (lookups + expected candidates from uniform bucket
  occupancy) whose constants were measured on this 2-core machine; when the model says a scan
  is cheaper (small registry, large radius) the index scans instead. Rows added after the
  build sit in a short tail that is scanned, and are folded into the tables once the tail
  grows past ``max(4096, n / 64)`` rows.

Measured with ``python -m bench.detection`` (full run, 151 s; random hashes, half the queries
planted within the radius of an entry; results identical to brute force on every compared
query), on this 2-core machine while other work was running, so absolute rates are noisy; the
ratio is against brute force measured in the same run:

====  ==========  ======  =========  =========  ======  =======  ============================
bits  registry    radius  brute q/s  index q/s  ratio   build s  chunks (bits)
====  ==========  ======  =========  =========  ======  =======  ============================
64    10,000      8       46,983     57,110     1.2     0.0      none: cost model scans
64    100,000     8       9,004      40,587     4.5     0.07     4 x 16
64    1,000,000   8       617        16,237     26      0.5      22/21/21
64    10,000,000  8       8.9        2,311      260     32       22/21/21
256   10,000      31      7,503      70,993     9.5     0.05     16 x 16
256   100,000     31      913        16,290     18      0.3      16 x 16
256   1,000,000   31      71         5,390      76      3.4      12 x 21/22
256   10,000,000  31      5.1        759        150     43       12 x 21/22 (1.0 GB in all)
====  ==========  ======  =========  =========  ======  =======  ============================

Choosing the layout by measurement (1M and 10M, unloaded): at 64 bits / radius 8, three
21/22-bit chunks (radii 2,2,2) ran 8,100 q/s at 10M against 1,300 for four 16-bit chunks and
110 for two 32-bit chunks (binary search; too many neighbour keys); at 256 bits / radius 31,
twelve 21/22-bit chunks ran 9,600 q/s at 1M against 4,000 for sixteen 16-bit and 250 for eight
32-bit chunks. The cost model picks the fastest of these in every measured case.
FAISS binary indexes (``faiss-cpu``: IndexBinaryMultiHash) were not tried for lack of time;
the NumPy index already clears the targets (>= 100x at 10M 64-bit, >= 20x at 1M 256-bit), so
no compiled dependency is needed.

Real perceptual hashes are not uniform (pHash of flat images collapse onto few values), so
bucket occupancy, and the speed-up, can be lower than on random hashes; results stay exact.
Nothing here is persisted (STYLE.md: never pickle an index; rebuild it from the registry rows).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from errors import ValidationError

__all__ = ["DEFAULT_RADIUS", "BruteForceIndex", "HammingIndex", "pack_hashes"]

# Matching thresholds used by dscr's hashers (PDQ: ThreatExchange's PDQ_CONFIDENT_MATCH_THRESHOLD).
DEFAULT_RADIUS = {64: 8, 256: 31}

_HEX = re.compile(r"[0-9a-fA-F]*")

# Cost-model constants (seconds), measured with bench.detection on the 2-core dev machine.
_COST_LOOKUP = 4e-8  # one neighbour key: offsets gather + range expansion
_COST_SORTED_LOOKUP = 2e-7  # one key by binary search, when a chunk is too wide for a table
_COST_CANDIDATE = 3e-8  # one candidate: row gather + full-distance check
_COST_SCAN_WORD = 1.2e-9  # one 64-bit word XOR + popcount in a linear scan
_COST_CHUNK = 2e-6  # fixed NumPy overhead per chunk and query batch, per query
_MAX_DIRECT_BITS = 24  # bucket tables of 2**24 int32 offsets = 64 MiB at most per chunk
_TAIL_MIN = 4096


def _word_count(bits: int) -> int:
    return (bits + 63) // 64


def _validate_bits(bits: object) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValidationError(
            "detection.bits_integer_number_hash",
            "bits must be an integer number of hash bits (64, 256), got {bits!r}",
            bits=bits
        )
    bits = int(bits)
    if bits <= 0 or bits % 8:
        raise ValidationError("detection.bits_positive_multiple",
                              "bits must be a positive multiple of 8 (64, 256), got {bits}",
                              bits=bits)
    return bits


def _validate_radius(radius: object, bits: int) -> int:
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)):
        raise ValidationError("detection.radius_integer_number_bits",
                              "radius must be an integer number of bits, got {radius!r}",
                              radius=radius)
    radius = int(radius)
    if radius < 0 or radius > bits:
        raise ValidationError("detection.radius_bit_hashes",
                              "radius must be 0..{bits} for {bits}-bit hashes, got {radius}",
                              bits=bits, radius=radius)
    return radius


def _hex_to_words(hexes: Sequence[str], bits: int) -> np.ndarray:
    n_hex = bits // 4
    for i, h in enumerate(hexes):
        if not isinstance(h, str):
            raise ValidationError("detection.hash_hex_string_2",
                                  "hash #{i} must be a hex string, got {type_name} {h!r}",
                                  i=i, type_name=type(h).__name__, h=h)
        if len(h) != n_hex:
            raise ValidationError(
                "detection.hash_hex_digits_bit",
                "hash #{i} {h!r} must be {n_hex} hex digits for a {bits}-bit hash, got {n_h} "
                "characters",
                i=i, h=h[:80], n_hex=n_hex, bits=bits, n_h=len(h)
            )
    joined = "".join(hexes)
    if not _HEX.fullmatch(joined):
        for i, h in enumerate(hexes):
            if not _HEX.fullmatch(h):
                raise ValidationError(
                    "detection.hash_characters_not_hex",
                    "hash #{i} {h!r} has characters that are not hex digits (0-9, a-f)",
                    i=i, h=h
                )
    raw = np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(len(hexes), bits // 8)
    return _bytes_to_words(raw, bits)


def _bytes_to_words(raw: np.ndarray, bits: int) -> np.ndarray:
    """Big-endian bytes (hex order) to uint64 words, so word 0 == int(hex[:16], 16)."""
    n_words = _word_count(bits)
    pad = n_words * 8 - raw.shape[1]
    if pad:
        raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(raw).view(">u8").astype(np.uint64).reshape(-1, n_words)


def pack_hashes(hashes: object, bits: int) -> np.ndarray:
    """Hashes (hex strings, packed uint8 bytes or uint64 words) as an ``(n, words)`` uint64 array.

    Hex strings and uint8 bytes are read big-endian, so for a 64-bit hash the uint64 value is
    ``int(hex, 16)``.
    """
    bits = _validate_bits(bits)
    n_words = _word_count(bits)
    if isinstance(hashes, str):
        raise ValidationError(
            "detection.hashes_list_hex_strings",
            "hashes must be a list of hex strings, not one string; wrap it in [ ]"
        )
    if isinstance(hashes, np.ndarray) and hashes.dtype.kind in "ui":
        arr = hashes
        if arr.dtype == np.uint8 and arr.ndim == 2 and arr.shape[1] == bits // 8:
            return _bytes_to_words(arr, bits)
        if arr.dtype == np.uint64:
            if arr.ndim == 1 and n_words == 1:
                return arr.reshape(-1, 1).copy()
            if arr.ndim == 2 and arr.shape[1] == n_words:
                if bits % 64:
                    low = np.uint64((1 << (64 - bits % 64)) - 1)
                    if np.any(arr[:, -1] & low):
                        raise ValidationError(
                            "detection.uint64_words_bit_hashes",
                            "uint64 words for {bits}-bit hashes must have the unused low "
                            "{value} bits of the last word zero",
                            bits=bits, value=64 - bits % 64
                        )
                return np.ascontiguousarray(arr)
        if arr.size == 0:
            return np.zeros((0, n_words), dtype=np.uint64)
        raise ValidationError(
            "detection.packed_hashes_bit_hashes",
            "packed hashes for {bits}-bit hashes must be uint8 of shape (n, {bits_2}) or uint64 "
            "of shape (n, {n_words}), got {arr_dtype} of shape {arr_shape}",
            bits=bits, bits_2=bits // 8, n_words=n_words, arr_dtype=arr.dtype, arr_shape=arr.shape
        )
    hexes = list(hashes) if not isinstance(hashes, list) else hashes
    if not hexes:
        return np.zeros((0, n_words), dtype=np.uint64)
    return _hex_to_words(hexes, bits)


def _pack_query(query: object, bits: int) -> np.ndarray:
    if isinstance(query, str):
        return _hex_to_words([query], bits)[0]
    if isinstance(query, np.uint64):
        query = np.asarray(query)
    if isinstance(query, np.ndarray):
        if query.ndim == 1 and query.dtype == np.uint8:
            return pack_hashes(query.reshape(1, -1), bits)[0]
        if query.dtype == np.uint64:
            return pack_hashes(query.reshape(1, -1), bits)[0]
    raise ValidationError(
        "detection.query_digit_hex_string",
        "a query must be a {bits}-digit hex string or a packed uint8/uint64 array, got "
        "{type_name}",
        bits=bits // 4, type_name=type(query).__name__
    )


def _pack_queries(queries: object, bits: int) -> np.ndarray:
    if isinstance(queries, np.ndarray):
        return pack_hashes(queries, bits)
    return pack_hashes(list(queries), bits)  # type: ignore[arg-type]


def _validate_ids(ids: object, n: int, first_id: int) -> np.ndarray:
    if ids is None:
        return np.arange(first_id, first_id + n, dtype=np.int64)
    arr = np.asarray(ids)
    if arr.size == 0 and n == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise ValidationError(
            "detection.ids_flat_list_integer",
            "ids must be a flat list of integer registry row ids, got {arr_dtype} of shape "
            "{arr_shape}",
            arr_dtype=arr.dtype, arr_shape=arr.shape
        )
    if arr.shape[0] != n:
        raise ValidationError("detection.ids_give_one_row",
                              "ids must give one row id per hash: {n} hashes, {first_arr_shape} "
                              "ids",
                              n=n, first_arr_shape=arr.shape[0])
    arr = arr.astype(np.int64)
    if np.unique(arr).shape[0] != n:
        uniq, counts = np.unique(arr, return_counts=True)
        raise ValidationError(
            "detection.registry_row_id_appears",
            "registry row id {first_uniq} appears more than once in ids",
            first_uniq=int(uniq[counts > 1][0])
        )
    return arr


def _scan(words: np.ndarray, q: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``words`` within ``radius`` of ``q`` and their distances, by a linear scan."""
    if words.shape[1] == 1:
        dist = np.bitwise_count(words[:, 0] ^ q[0])
    else:
        dist = np.bitwise_count(words[:, 0] ^ q[0]).astype(np.uint16)
        for w in range(1, words.shape[1]):
            dist += np.bitwise_count(words[:, w] ^ q[w])
    rows = np.flatnonzero(dist <= radius)
    return rows, dist[rows].astype(np.int64)


def _to_results(ids: np.ndarray, dist: np.ndarray) -> list[tuple[int, int]]:
    order = np.lexsort((ids, dist))
    return list(zip(ids[order].tolist(), dist[order].tolist()))


class _Store:
    """Growable (n, words) uint64 rows and their ids: appends are amortised O(added)."""

    def __init__(self, words: np.ndarray, ids: np.ndarray) -> None:
        self._words = words
        self._ids = ids
        self.n = words.shape[0]

    @property
    def words(self) -> np.ndarray:
        return self._words[: self.n]

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self.n]

    def append(self, words: np.ndarray, ids: np.ndarray) -> None:
        if np.isin(ids, self.ids).any():
            dup = ids[np.isin(ids, self.ids)][0]
            raise ValidationError("detection.registry_row_id_already",
                                  "registry row id {dup} is already in the index",
                                  dup=int(dup))
        need = self.n + words.shape[0]
        if need > self._words.shape[0]:
            cap = max(need, 2 * self._words.shape[0], 1024)
            new_words = np.zeros((cap, self._words.shape[1]), dtype=np.uint64)
            new_words[: self.n] = self.words
            new_ids = np.zeros(cap, dtype=np.int64)
            new_ids[: self.n] = self.ids
            self._words, self._ids = new_words, new_ids
        self._words[self.n : need] = words
        self._ids[self.n : need] = ids
        self.n = need

    def nbytes(self) -> int:
        return int(self._words.nbytes + self._ids.nbytes)


class BruteForceIndex:
    """Linear scan over every registry hash: the reference every faster index is tested against."""

    def __init__(
        self, hashes: object, bits: int, ids: Iterable[int] | np.ndarray | None = None
    ) -> None:
        self.bits = _validate_bits(bits)
        words = pack_hashes(hashes, self.bits)
        self._store = _Store(words, _validate_ids(ids, words.shape[0], 0))

    def __len__(self) -> int:
        return self._store.n

    def add(self, hashes: object, ids: Iterable[int] | np.ndarray | None = None) -> None:
        words = pack_hashes(hashes, self.bits)
        next_id = int(self._store.ids.max()) + 1 if self._store.n else 0
        self._store.append(words, _validate_ids(ids, words.shape[0], next_id))

    def search(self, query: object, radius: int) -> list[tuple[int, int]]:
        """Registry ids within ``radius`` bits of ``query`` as (id, distance), by (distance, id)."""
        radius = _validate_radius(radius, self.bits)
        q = _pack_query(query, self.bits)
        rows, dist = _scan(self._store.words, q, radius)
        return _to_results(self._store.ids[rows], dist)

    def search_many(self, queries: object, radius: int) -> list[list[tuple[int, int]]]:
        radius = _validate_radius(radius, self.bits)
        qs = _pack_queries(queries, self.bits)
        words, ids = self._store.words, self._store.ids
        out = []
        for q in qs:
            rows, dist = _scan(words, q, radius)
            out.append(_to_results(ids[rows], dist))
        return out

    def memory_bytes(self) -> int:
        return self._store.nbytes()


@dataclass(frozen=True)
class _Chunk:
    word: int
    shift: int
    nbits: int

    @property
    def mask(self) -> np.uint64:
        return np.uint64((1 << self.nbits) - 1)

    def keys(self, words: np.ndarray) -> np.ndarray:
        return (words[:, self.word] >> np.uint64(self.shift)) & self.mask


def _layout(bits: int, per_word: int) -> list[_Chunk]:
    """Cut each 64-bit word's used bits into ``per_word`` near-equal chunks that stay in the word."""
    chunks = []
    for w in range(_word_count(bits)):
        used = min(64, bits - 64 * w)
        low = 64 - used  # hex/bytes are big-endian: a short last word fills its high bits
        base, extra = divmod(used, per_word)
        shift = low
        for k in range(per_word):
            nb = base + (1 if k < extra else 0)
            if nb:
                chunks.append(_Chunk(w, shift, nb))
            shift += nb
    return chunks


def _ball(nbits: int, radius: int) -> int:
    return sum(math.comb(nbits, k) for k in range(radius + 1))


def _flip_masks(nbits: int, radius: int) -> np.ndarray:
    """Every nbits-bit XOR mask with at most ``radius`` bits set (the chunk's neighbour keys)."""
    masks = [np.zeros(1, dtype=np.uint64)]
    singles = np.uint64(1) << np.arange(nbits, dtype=np.uint64)
    frontier = np.zeros(1, dtype=np.uint64)
    highest = np.full(1, -1, dtype=np.int64)  # highest bit set so far: each mask built once
    for _ in range(radius):
        parts, parts_hi = [], []
        for b in range(nbits):
            sel = highest < b
            if sel.any():
                parts.append(frontier[sel] | singles[b])
                parts_hi.append(np.full(int(sel.sum()), b, dtype=np.int64))
        if not parts:
            break
        frontier, highest = np.concatenate(parts), np.concatenate(parts_hi)
        masks.append(frontier)
    return np.concatenate(masks)


def _chunk_radii(
    chunks: Sequence[_Chunk], radius: int, n: int, give_up: float = math.inf
) -> tuple[list[int], float]:
    """Per-chunk search radii (-1 = skip) with sum(r_i + 1) >= radius + 1, at least cost.

    Greedy by marginal cost is optimal here: each chunk's cost grows convexly with its radius
    in the range that is ever cheaper than a scan.
    """

    def cost(c: _Chunk, r: int) -> float:
        if r < 0:
            return 0.0
        v = _ball(c.nbits, r)
        per_key = _COST_LOOKUP if c.nbits <= _MAX_DIRECT_BITS else _COST_SORTED_LOOKUP
        return per_key * v + _COST_CANDIDATE * n * v / 2.0**c.nbits + _COST_CHUNK

    radii = [-1] * len(chunks)
    total = 0.0
    for _ in range(radius + 1):
        best, best_delta = -1, math.inf
        for i, c in enumerate(chunks):
            if radii[i] + 1 > c.nbits:
                continue
            delta = cost(c, radii[i] + 1) - cost(c, radii[i])
            if delta < best_delta:
                best, best_delta = i, delta
        if best < 0:
            return radii, math.inf
        radii[best] += 1
        total += best_delta
        if total >= give_up:  # already dearer than the alternative: stop enumerating
            return radii, math.inf
    return radii, total


def _scan_cost(n: int, n_words: int) -> float:
    return _COST_SCAN_WORD * n * n_words


class _Tables:
    """One CSR bucket table per chunk over rows ``0 .. n``: keys sorted, rows permuted."""

    def __init__(self, words: np.ndarray, chunks: list[_Chunk]) -> None:
        self.chunks = chunks
        self.n = words.shape[0]
        self.offsets: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.sorted_keys: list[np.ndarray | None] = []
        row_dtype = np.int32 if self.n < 2**31 else np.int64
        for c in chunks:
            keys = c.keys(words)
            order = np.argsort(keys, kind="stable").astype(row_dtype)
            self.rows.append(order)
            if c.nbits <= _MAX_DIRECT_BITS:
                counts = np.bincount(keys.astype(np.int64), minlength=1 << c.nbits)
                offsets = np.zeros((1 << c.nbits) + 1, dtype=row_dtype)
                np.cumsum(counts, out=offsets[1:])
                self.offsets.append(offsets)
                self.sorted_keys.append(None)
            else:
                self.offsets.append(np.zeros(0, dtype=row_dtype))
                self.sorted_keys.append(keys[order])

    def buckets(self, i: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sk = self.sorted_keys[i]
        if sk is None:
            off = self.offsets[i]
            k = keys.astype(np.int64)
            return off[k].astype(np.int64), off[k + 1].astype(np.int64)
        return np.searchsorted(sk, keys, "left"), np.searchsorted(sk, keys, "right")

    def nbytes(self) -> int:
        total = sum(a.nbytes for a in self.offsets) + sum(a.nbytes for a in self.rows)
        return int(total + sum(a.nbytes for a in self.sorted_keys if a is not None))


def _expand(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges ``starts[j] .. starts[j] + counts[j]`` without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.cumsum(counts) - counts
    return np.repeat(starts - before, counts) + np.arange(total, dtype=np.int64)


class HammingIndex:
    """Exact Hamming-radius search by multi-index hashing, identical to ``BruteForceIndex``.

    ``hashes``: hex strings, or packed uint8 ``(n, bits/8)`` / uint64 ``(n, words)`` arrays.
    ``ids``: the registry's row ids (default ``0 .. n-1``). ``radius_hint``: the radius the chunk
    layout is tuned for (default: dscr's threshold for ``bits``); any radius can be searched.
    ``chunks_per_word``: fix the layout (1..8 chunks per 64-bit word) and always search the
    tables, never a scan (for tests and measurements); ``None`` lets the cost model choose.
    """

    def __init__(
        self,
        hashes: object,
        bits: int,
        ids: Iterable[int] | np.ndarray | None = None,
        *,
        radius_hint: int | None = None,
        chunks_per_word: int | None = None,
    ) -> None:
        self.bits = _validate_bits(bits)
        if chunks_per_word is not None and (
            isinstance(chunks_per_word, bool)
            or not isinstance(chunks_per_word, (int, np.integer))
            or not 1 <= chunks_per_word <= 8
        ):
            raise ValidationError("detection.chunks_per_word_none",
                                  "chunks_per_word must be 1..8 or None, got {chunks_per_word!r}",
                                  chunks_per_word=chunks_per_word)
        self.chunks_per_word = chunks_per_word
        self.radius_hint = _validate_radius(
            DEFAULT_RADIUS.get(self.bits, max(1, self.bits // 8))
            if radius_hint is None
            else radius_hint,
            self.bits,
        )
        words = pack_hashes(hashes, self.bits)
        self._store = _Store(words, _validate_ids(ids, words.shape[0], 0))
        self._tables: _Tables | None = None
        self._rebuild()

    # -- building ---------------------------------------------------------------------------
    def _choose_layout(self, n: int) -> list[_Chunk] | None:
        if self.chunks_per_word is not None:
            return _layout(self.bits, self.chunks_per_word)
        n_words = _word_count(self.bits)
        best, best_cost = None, _scan_cost(n, n_words)
        for per_word in range(1, 9):
            chunks = _layout(self.bits, per_word)
            if max(c.nbits for c in chunks) > 32:
                continue
            _, c = _chunk_radii(chunks, self.radius_hint, n, best_cost)
            if c < best_cost:
                best, best_cost = chunks, c
        return best

    def _rebuild(self) -> None:
        n = self._store.n
        chunks = self._choose_layout(n) if n else None
        self._tables = _Tables(self._store.words, chunks) if chunks else None

    def _maybe_fold_tail(self) -> None:
        indexed = self._tables.n if self._tables is not None else 0
        tail = self._store.n - indexed
        if tail > max(_TAIL_MIN, self._store.n // 64):
            self._rebuild()

    # -- public API -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._store.n

    def add(self, hashes: object, ids: Iterable[int] | np.ndarray | None = None) -> None:
        """Add registry entries; they are searchable at once and indexed when the tail grows."""
        words = pack_hashes(hashes, self.bits)
        next_id = int(self._store.ids.max()) + 1 if self._store.n else 0
        self._store.append(words, _validate_ids(ids, words.shape[0], next_id))
        self._maybe_fold_tail()

    def memory_bytes(self) -> int:
        return self._store.nbytes() + (self._tables.nbytes() if self._tables is not None else 0)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The indexed hashes as ``(n, words)`` uint64 and their ids (read-only views), for an
        owner that builds a larger index from this one while this one keeps answering."""
        words, ids = self._store.words, self._store.ids
        words.flags.writeable = False
        ids.flags.writeable = False
        return words, ids

    def search(self, query: object, radius: int) -> list[tuple[int, int]]:
        """Registry ids within ``radius`` bits of ``query`` as (id, distance), by (distance, id)."""
        radius = _validate_radius(radius, self.bits)
        q = _pack_query(query, self.bits)
        return self._search_words(q.reshape(1, -1), radius)[0]

    def search_many(self, queries: object, radius: int) -> list[list[tuple[int, int]]]:
        """``search`` for each query, in order; batched so NumPy does the loops."""
        radius = _validate_radius(radius, self.bits)
        qs = _pack_queries(queries, self.bits)
        return self._search_words(qs, radius)

    # -- searching --------------------------------------------------------------------------
    def _search_words(self, qs: np.ndarray, radius: int) -> list[list[tuple[int, int]]]:
        n_q = qs.shape[0]
        if n_q == 0:
            return []
        words, ids = self._store.words, self._store.ids
        tables = self._tables
        indexed = tables.n if tables is not None else 0
        scan_cost = _scan_cost(self._store.n, words.shape[1])
        if tables is None:
            return self._scan_many(qs, radius, 0)
        forced = self.chunks_per_word is not None
        radii, cost = _chunk_radii(
            tables.chunks, radius, indexed, math.inf if forced else scan_cost
        )
        if cost >= scan_cost and not forced:
            return self._scan_many(qs, radius, 0)
        per_query = sum(
            indexed * _ball(c.nbits, r) / 2.0**c.nbits + _ball(c.nbits, r)
            for c, r in zip(tables.chunks, radii)
            if r >= 0
        )
        batch = int(min(4096, max(1, 2e6 // max(per_query, 1.0))))
        masks = {
            i: _flip_masks(c.nbits, r)
            for i, (c, r) in enumerate(zip(tables.chunks, radii))
            if r >= 0
        }
        out: list[list[tuple[int, int]]] = []
        for lo in range(0, n_q, batch):
            out.extend(self._search_batch(qs[lo : lo + batch], radius, tables, masks, words, ids))
        if self._store.n > indexed:
            tail = self._scan_many(qs, radius, indexed)
            out = [sorted(a + b, key=lambda t: (t[1], t[0])) if b else a for a, b in zip(out, tail)]
        return out

    def _search_batch(
        self,
        qs: np.ndarray,
        radius: int,
        tables: _Tables,
        masks: dict[int, np.ndarray],
        words: np.ndarray,
        ids: np.ndarray,
    ) -> list[list[tuple[int, int]]]:
        n_q = qs.shape[0]
        found_q, found_row, found_d = [], [], []
        for i, m in masks.items():
            c = tables.chunks[i]
            qkeys = c.keys(qs)
            keys = (qkeys[:, None] ^ m[None, :]).ravel()
            starts, ends = tables.buckets(i, keys)
            counts = ends - starts
            pos = _expand(starts, counts)
            if pos.size == 0:
                continue
            rows = tables.rows[i][pos]
            qidx = np.repeat(np.repeat(np.arange(n_q), m.size), counts)
            dist = np.bitwise_count(words[rows, 0] ^ qs[qidx, 0])
            if words.shape[1] > 1:
                dist = dist.astype(np.uint16)
                for w in range(1, words.shape[1]):
                    dist += np.bitwise_count(words[rows, w] ^ qs[qidx, w])
            keep = dist <= radius
            found_q.append(qidx[keep])
            found_row.append(rows[keep].astype(np.int64))
            found_d.append(dist[keep].astype(np.int64))
        out: list[list[tuple[int, int]]] = [[] for _ in range(n_q)]
        if not found_q:
            return out
        fq, frow, fd = np.concatenate(found_q), np.concatenate(found_row), np.concatenate(found_d)
        # A match can sit within its radius in several chunks: keep one copy.
        key = fq.astype(np.int64) * max(tables.n, 1) + frow
        _, first = np.unique(key, return_index=True)
        fq, fid, fd = fq[first], ids[frow[first]], fd[first]
        order = np.lexsort((fid, fd, fq))
        fq, fid, fd = fq[order], fid[order], fd[order]
        bounds = np.searchsorted(fq, np.arange(n_q + 1))
        fid_l, fd_l = fid.tolist(), fd.tolist()
        for q in range(n_q):
            a, b = int(bounds[q]), int(bounds[q + 1])
            if a < b:
                out[q] = list(zip(fid_l[a:b], fd_l[a:b]))
        return out

    def _scan_many(self, qs: np.ndarray, radius: int, start: int) -> list[list[tuple[int, int]]]:
        words, ids = self._store.words[start:], self._store.ids[start:]
        out = []
        for q in qs:
            rows, dist = _scan(words, q, radius)
            out.append(_to_results(ids[rows], dist))
        return out
