"""The live index of the matching API: exact against brute force, growing while it answers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from detection.index import BruteForceIndex
from errors import ValidationError
from partners.index import (
    MAX_QUERIES,
    LiveIndex,
    Query,
    TokenBucket,
    opaque_id,
    parse_queries,
)


def random_hex(rng, n: int, bits: int) -> list[str]:
    return [bytes(row).hex() for row in rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)]


def flip(hx: str, bits: list[int]) -> str:
    value = int(hx, 16)
    for b in bits:
        value ^= 1 << int(b)
    return f"{value:0{len(hx)}x}"


def test_rows_added_after_the_build_are_matchable_at_once_and_after_folding():
    rng = np.random.default_rng(7)
    first = random_hex(rng, 5000, 256)
    ix = LiveIndex()
    ix.build("pdq", first, np.arange(1, 5001))
    late = random_hex(rng, 3, 256)
    near = flip(late[1], [0, 9, 200])  # 3 bits from the second late row
    assert ix.match([Query("pdq", near)])[0].matches == ()
    ix.add("pdq", late, [9001, 9002, 9003])
    got = ix.match([Query("pdq", near), Query("pdq", first[10])])
    assert got[0].matches == ((9002, 3),) and got[0].distance == 3
    assert got[1].matches == ((11, 0),)
    assert ix.watermark == 9003 and len(ix) == 5003
    assert ix.fold(force=True) == 1
    assert ix.match([Query("pdq", near)])[0].matches == ((9002, 3),)


@pytest.mark.parametrize("bits,alg", [(256, "pdq"), (64, "phash")])
def test_answers_equal_brute_force_with_part_of_the_rows_in_the_tail(bits, alg):
    rng = np.random.default_rng(11)
    hexes = random_hex(rng, 6000, bits)
    ids = np.arange(100, 6100)
    ix = LiveIndex()
    ix.build(alg, hexes[:5000], ids[:5000])
    ix.add(alg, hexes[5000:], ids[5000:])
    radius = ix.threshold(alg)
    picks = rng.choice(6000, 50, replace=False)
    queries = [flip(hexes[i], list(rng.choice(bits, int(rng.integers(0, radius + 4)), replace=False)))
               for i in picks] + random_hex(rng, 20, bits)
    brute = BruteForceIndex(hexes, bits, ids=ids).search_many(queries, radius)
    got = ix.match([Query(alg, q) for q in queries], limit=100)
    assert [list(r.matches) for r in got] == [sorted(b, key=lambda h: (h[1], h[0])) for b in brute]
    assert sum(r.matched for r in got) >= 30  # most planted queries are within the radius


def test_a_long_tail_is_folded_and_rows_added_during_the_fold_stay():
    rng = np.random.default_rng(3)
    ix = LiveIndex()
    ix.build("phash", random_hex(rng, 100, 64), np.arange(1, 101))
    tail = random_hex(rng, 4100, 64)
    ix.add("phash", tail, np.arange(1000, 5100))
    assert ix.needs_fold()
    ix.fold()
    assert not ix.needs_fold() and len(ix) == 4200
    assert ix.match([Query("phash", tail[-1])])[0].matches[0] == (5099, 0)


def test_matching_runs_while_another_thread_adds_and_folds():
    rng = np.random.default_rng(5)
    ix = LiveIndex()
    base = random_hex(rng, 2000, 64)
    ix.build("phash", base, np.arange(1, 2001))
    errors, done = [], threading.Event()

    def writer():
        for k in range(20):
            ix.add("phash", random_hex(rng, 500, 64), np.arange(10_000 + 500 * k, 10_500 + 500 * k))
            ix.fold()
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    while not done.is_set():
        r = ix.match([Query("phash", base[42])])[0]
        if (43, 0) not in r.matches:
            errors.append(r)
    t.join()
    assert errors == [] and len(ix) == 12_000


def test_an_algorithm_with_no_rows_matches_nothing():
    assert LiveIndex().match([Query("dhash", "0" * 16)])[0].matches == ()


def test_queries_are_checked_and_named_by_position():
    ok = parse_queries([{"algorithm": "pdq", "hash": "AB" * 32}, {"algorithm": "phash",
                                                                  "hash": " 00ff00ff00ff00ff "}])
    assert ok == [Query("pdq", "ab" * 32), Query("phash", "00ff00ff00ff00ff")]
    with pytest.raises(ValidationError, match=r"hash #1: unknown algorithm 'md5'") as e:
        parse_queries([{"algorithm": "pdq", "hash": "0" * 64}, {"algorithm": "md5", "hash": "0"}])
    assert e.value.code == "partners.unknown_algorithm"
    with pytest.raises(ValidationError, match=r"hash #0: a pdq hash must be 64 hex digits") as e:
        parse_queries([{"algorithm": "pdq", "hash": "0" * 16}])
    assert e.value.code == "partners.bad_hash"
    with pytest.raises(ValidationError, match="at most 1000 hashes, got 1001"):
        parse_queries([{"algorithm": "phash", "hash": "0" * 16}] * (MAX_QUERIES + 1))
    with pytest.raises(ValidationError, match="at least one hash"):
        parse_queries([])


def test_the_opaque_id_is_stable_keyed_and_says_nothing_of_the_row_id():
    key, other = b"k" * 32, b"o" * 32
    a = opaque_id(key, 17)
    assert a == opaque_id(key, 17) and len(a) == 24 and int(a, 16) >= 0
    assert a != opaque_id(key, 18) and a != opaque_id(other, 17) and "17" not in a[:2]
    assert len({opaque_id(key, i) for i in range(10_000)}) == 10_000


def test_the_token_bucket_allows_its_burst_then_its_rate():
    bucket = TokenBucket(60, 3, now=0.0)  # one a second
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(0.5) == pytest.approx(0.5)  # refused: nothing spent
    assert bucket.take(1.0) == 0.0
    assert bucket.take(1.0) > 0
    assert [bucket.take(100.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # refilled to the burst only
