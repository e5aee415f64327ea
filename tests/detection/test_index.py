"""HammingIndex gives exactly the brute-force answer; brute force agrees with imagehash and int popcount."""

from __future__ import annotations

from unittest import mock

import imagehash
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detection.index as index_mod
from detection.index import BruteForceIndex, HammingIndex, pack_hashes
from errors import ValidationError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _random_hex(rng: np.random.Generator, n: int, bits: int) -> list[str]:
    raw = rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)
    return [row.tobytes().hex() for row in raw]


def _flip(h: str, positions: np.ndarray) -> str:
    value = int(h, 16)
    for p in positions:
        value ^= 1 << int(p)
    return f"{value:0{len(h)}x}"


def _registry(seed: int, n: int, bits: int, radius: int) -> tuple[list[str], list[str]]:
    """Random hashes plus exact duplicates and neighbours planted at radius-1, radius, radius+1."""
    rng = np.random.default_rng(seed)
    hashes = _random_hex(rng, n, bits)
    if n:
        for _ in range(n // 5):
            hashes.append(hashes[int(rng.integers(len(hashes)))])
    queries = _random_hex(rng, 3, bits)
    for _ in range(9 if hashes else 0):
        base = hashes[int(rng.integers(len(hashes)))]
        d = int(np.clip(radius + rng.integers(-1, 2), 0, bits))
        near = _flip(base, rng.choice(bits, size=d, replace=False))
        queries.append(near)
        if rng.random() < 0.5:  # a registry entry at an exact distance from another
            hashes.append(_flip(near, rng.choice(bits, size=min(d, 2), replace=False)))
    return hashes, queries


def _popcount_reference(
    hashes: list[str], ids: list[int], query: str, radius: int
) -> list[tuple[int, int]]:
    hits = [(i, (int(h, 16) ^ int(query, 16)).bit_count()) for h, i in zip(hashes, ids)]
    return sorted([(i, d) for i, d in hits if d <= radius], key=lambda t: (t[1], t[0]))


@st.composite
def cases(draw):
    bits = draw(st.sampled_from([64, 256]))
    radius = draw(
        st.one_of(
            st.sampled_from([0, 1, index_mod.DEFAULT_RADIUS[bits]]),
            st.integers(0, bits // 4),
            st.integers(0, bits),
        )
    )
    n = draw(st.integers(0, 250))
    seed = draw(st.integers(0, 2**32 - 1))
    per_word = draw(st.sampled_from([None, 5, 8]))
    return bits, radius, n, seed, per_word


@SETTINGS
@given(cases())
def test_index_search_equals_brute_force_exactly(case):
    bits, radius, n, seed, per_word = case
    hashes, queries = _registry(seed, n, bits, radius)
    ids = np.random.default_rng(seed).permutation(len(hashes)) * 7 + 3  # not in row order
    brute = BruteForceIndex(hashes, bits, ids)
    index = HammingIndex(hashes, bits, ids, chunks_per_word=per_word)
    expected = brute.search_many(queries, radius)
    assert index.search_many(queries, radius) == expected
    assert [index.search(q, radius) for q in queries] == expected
    assert sum(map(len, expected)) > 0 or not hashes or radius == 0


@SETTINGS
@given(cases())
def test_brute_force_equals_python_popcount(case):
    bits, radius, n, seed, _ = case
    hashes, queries = _registry(seed, min(n, 60), bits, radius)
    ids = list(range(100, 100 + len(hashes)))
    brute = BruteForceIndex(hashes, bits, ids)
    for q in queries[:4]:
        assert brute.search(q, radius) == _popcount_reference(hashes, ids, q, radius)


@SETTINGS
@given(cases(), st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_incremental_add_gives_the_same_as_a_fresh_build(case, cuts):
    bits, radius, n, seed, per_word = case
    hashes, queries = _registry(seed, n, bits, radius)
    ids = list(range(len(hashes)))
    # A small tail limit so that adds both stay in the scanned tail and get folded into tables.
    with mock.patch.object(index_mod, "_TAIL_MIN", 32):
        grown = HammingIndex(hashes[: cuts[0]], bits, ids[: cuts[0]], chunks_per_word=per_word)
        start = cuts[0]
        for size in cuts[1:] + [len(hashes)]:
            grown.add(hashes[start : start + size], ids[start : start + size])
            start += size
            prefix = BruteForceIndex(hashes[:start], bits, ids[:start])
            assert grown.search_many(queries[:4], radius) == prefix.search_many(queries[:4], radius)
    fresh = HammingIndex(hashes, bits, ids, chunks_per_word=per_word)
    assert len(grown) == len(fresh) == len(hashes)
    assert grown.search_many(queries, radius) == fresh.search_many(queries, radius)
    assert grown.search_many(queries, radius) == BruteForceIndex(hashes, bits, ids).search_many(
        queries, radius
    )


def test_add_without_ids_continues_after_the_largest_id():
    index = HammingIndex(["0" * 16], 64, ids=[41])
    index.add(["f" * 16, "0" * 15 + "1"])
    assert index.search("0" * 16, 64) == [(41, 0), (43, 1), (42, 64)]


def test_distances_match_imagehash_and_hand_worked_values():
    a, b, c = "0000000000000000", "000000000000000f", "ffffffffffffffff"
    brute = BruteForceIndex([b, c], 64, ids=[1, 2])
    assert brute.search(a, 64) == [(1, 4), (2, 64)]
    ih = imagehash.hex_to_hash
    pdq_like = _random_hex(np.random.default_rng(5), 6, 256)
    index = HammingIndex(pdq_like, 256, chunks_per_word=4)
    got = dict(index.search(pdq_like[0], 256))
    assert got == {i: ih(pdq_like[0]) - ih(h) for i, h in enumerate(pdq_like)}


@pytest.mark.parametrize("bits", [64, 256])
@pytest.mark.parametrize("per_word", [None, 4])
def test_edge_cases_empty_radius_zero_and_full_radius(bits, per_word):
    empty = HammingIndex([], bits, chunks_per_word=per_word)
    assert len(empty) == 0
    assert empty.search("a" * (bits // 4), 5) == []
    assert empty.search_many([], 5) == []
    hashes = _random_hex(np.random.default_rng(bits), 30, bits)
    hashes += [hashes[3], hashes[3]]
    index = HammingIndex(hashes, bits, chunks_per_word=per_word)
    assert index.search(hashes[3], 0) == [(3, 0), (30, 0), (31, 0)]
    everything = index.search(hashes[0], bits)
    assert len(everything) == len(hashes)
    assert everything == sorted(everything, key=lambda t: (t[1], t[0]))
    assert everything == BruteForceIndex(hashes, bits).search(hashes[0], bits)


def test_packed_uint8_and_uint64_inputs_match_hex():
    hexes = _random_hex(np.random.default_rng(9), 20, 256)
    as_bytes = np.array([list(bytes.fromhex(h)) for h in hexes], dtype=np.uint8)
    words = pack_hashes(hexes, 256)
    assert words[0, 0] == int(hexes[0][:16], 16)
    want = HammingIndex(hexes, 256).search_many(hexes[:5], 40)
    assert HammingIndex(as_bytes, 256).search_many(as_bytes[:5], 40) == want
    assert HammingIndex(words, 256).search_many(words[:5], 40) == want
    h64 = _random_hex(np.random.default_rng(10), 10, 64)
    flat = np.array([int(h, 16) for h in h64], dtype=np.uint64)
    assert HammingIndex(flat, 64).search(flat[2], 0) == [(2, 0)]


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        (["abc"], "hash #0 'abc' must be 16 hex digits"),
        (["0" * 16, "0" * 15 + "g"], "hash #1 '000000000000000g' has characters that are not hex"),
        (["0" * 14 + " 1"], "not hex"),
        ([b"0" * 16], "hash #0 must be a hex string"),
    ],
)
def test_bad_hashes_are_rejected_naming_the_hash(hashes, message):
    with pytest.raises(ValidationError, match=message):
        HammingIndex(hashes, 64)
    with pytest.raises(ValidationError, match=message):
        HammingIndex(["0" * 16], 64).add(hashes)


@pytest.mark.parametrize("radius", [-1, 65, 1.5, True])
def test_radius_outside_zero_to_bits_is_rejected(radius):
    index = HammingIndex(["0" * 16], 64)
    with pytest.raises(ValidationError, match="radius"):
        index.search("0" * 16, radius)
    with pytest.raises(ValidationError, match="radius"):
        BruteForceIndex(["0" * 16], 64).search_many(["0" * 16], radius)


def test_bad_query_and_duplicate_ids_are_rejected():
    index = HammingIndex(["0" * 16, "1" * 16], 64, ids=[5, 6])
    with pytest.raises(ValidationError, match="hash #0 '00' must be 16 hex digits"):
        index.search("00", 3)
    with pytest.raises(ValidationError, match="registry row id 5 is already in the index"):
        index.add(["2" * 16], ids=[5])
    with pytest.raises(ValidationError, match="appears more than once"):
        HammingIndex(["0" * 16, "1" * 16], 64, ids=[1, 1])
    with pytest.raises(ValidationError, match="one row id per hash"):
        HammingIndex(["0" * 16], 64, ids=[1, 2])


def test_memory_grows_with_the_registry():
    rng = np.random.default_rng(2)
    small = HammingIndex(_random_hex(rng, 100, 64), 64, chunks_per_word=4)
    large = HammingIndex(_random_hex(rng, 5000, 64), 64, chunks_per_word=4)
    assert large.memory_bytes() > small.memory_bytes() >= 100 * 8
