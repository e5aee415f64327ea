"""Contract tests over every registered hasher, dihedral variants and draft-mode decoding."""

from __future__ import annotations

import io
import itertools
from functools import cache

import imagehash
import numpy as np
import pdqhash
import pytest
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_images

from detection import hashing, matching
from detection.hashing import HASHERS, Hasher, PdqHasher, PHasher, build_registry, get_hasher
from detection.media import open_image
from errors import ValidationError

PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "china", "flower")

# Pinned once from skimage.data.astronaut() (imagehash 4.3, pdqhash 0.2): a change here means
# stored registry hashes would no longer match what the code computes.
GOLDEN_ASTRONAUT = {
    "phash": "c2924c5532bddfc8",
    "dhash": "cd8dd91d897293a7",
    "whash": "7f775fc744f80040",
    "pdq": "2d6b1af3a956c529e79ca3d2526fa834d4196c81cedd04de0a26b855fc99b724",
}


@cache
def photo(name: str) -> Image.Image:
    if name in ("china", "flower"):
        return Image.fromarray(load_sample_images().images[("china", "flower").index(name)])
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def jpeg_bytes(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


ALL_HASHERS = pytest.mark.parametrize("hasher", list(HASHERS.values()), ids=list(HASHERS))


def test_registry_has_each_hasher_under_its_explicit_name():
    assert set(HASHERS) == {"phash", "dhash", "whash", "pdq"}
    for name, hasher in HASHERS.items():
        assert type(hasher).__dict__["name"] == name
        assert get_hasher(name) is hasher


def test_registry_refuses_duplicate_names_and_unknown_lookups():
    class OtherPdq(PdqHasher):
        name = "pdq"

    with pytest.raises(ValidationError, match="'pdq' is used by both"):
        build_registry((PdqHasher, OtherPdq))

    class Nameless(PHasher):
        pass

    with pytest.raises(ValidationError, match="must set its own constant `name`"):
        build_registry((Nameless,))
    with pytest.raises(ValidationError, match="unknown hasher 'md5'"):
        get_hasher("md5")



@ALL_HASHERS
def test_every_hasher_declares_a_role_and_its_own_preference_rank(hasher: Hasher):
    assert hasher.role in (hashing.DECIDES, hashing.CORROBORATES)
    assert isinstance(hasher.preference, int) and not isinstance(hasher.preference, bool)
    ranks = [h.preference for h in HASHERS.values()]
    assert ranks.count(hasher.preference) == 1


def test_deciding_and_corroborating_hashers_are_what_the_registry_declares():
    declared = {role: {n for n, h in HASHERS.items() if h.role == role} for role in hashing.ROLES}
    assert set(hashing.DECIDING) == declared[hashing.DECIDES]
    assert set(hashing.CORROBORATING) == declared[hashing.CORROBORATES]
    assert set(hashing.DECIDING) | set(hashing.CORROBORATING) == set(HASHERS)
    assert hashing.PREFERENCE == tuple(sorted(HASHERS, key=lambda n: HASHERS[n].preference))
    assert hashing.DECIDING == tuple(n for n in hashing.PREFERENCE if n in hashing.DECIDING)
    # The values bench.detection chose, and the matcher's defaults.
    assert (hashing.DECIDING, hashing.CORROBORATING) == (("pdq", "phash"), ("dhash", "whash"))
    assert hashing.PREFERENCE == ("pdq", "phash", "dhash", "whash")
    m = matching.Matcher([])
    assert (m.deciding, m.corroborating) == (hashing.DECIDING, hashing.CORROBORATING)


def test_a_new_hasher_is_one_class_and_takes_its_declared_role():
    class Strict(PHasher):
        name = "strict"
        role = hashing.CORROBORATES
        preference = 9

    registry = build_registry((*hashing.HASHER_CLASSES, Strict))
    assert hashing.with_role(registry, hashing.CORROBORATES) == ("dhash", "whash", "strict")
    assert hashing.with_role(registry, hashing.DECIDES) == ("pdq", "phash")
    assert hashing.by_preference(registry)[-1] == "strict"


def test_registry_refuses_a_hasher_without_a_valid_role_or_with_a_shared_rank():
    class Roleless(PHasher):
        name = "roleless"
        role = "flags"
        preference = 9

    with pytest.raises(ValueError, match="must declare its role"):
        build_registry((Roleless,))

    class Unranked(PHasher):
        name = "unranked"
        preference = None

    with pytest.raises(ValueError, match="integer `preference`"):
        build_registry((Unranked,))

    class SameRank(PHasher):
        name = "same"

    with pytest.raises(ValueError, match="share preference 2"):
        build_registry((PHasher, SameRank))

@ALL_HASHERS
def test_hex_round_trip_is_distance_zero(hasher: Hasher):
    h = hasher.hash_image(photo("astronaut"))
    assert len(h) == hasher.bits // 4
    assert hasher.validate_hex(h.upper()) == h
    assert hasher.distance(h, hasher.validate_hex(h)) == 0
    assert hasher.compare(h, h).match


@ALL_HASHERS
def test_golden_hash_of_astronaut_is_pinned(hasher: Hasher):
    assert hasher.hash_image(photo("astronaut")) == GOLDEN_ASTRONAUT[hasher.name]


@ALL_HASHERS
def test_jpeg_reencode_at_quality_70_is_within_threshold(hasher: Hasher):
    for name in PHOTO_NAMES:
        original = hasher.hash_image(photo(name))
        reencoded = hasher.hash_bytes(jpeg_bytes(photo(name), 70))
        assert hasher.distance(original, reencoded) <= hasher.threshold, name


@ALL_HASHERS
def test_unrelated_package_photos_are_beyond_threshold(hasher: Hasher):
    hashes = {name: hasher.hash_image(photo(name)) for name in PHOTO_NAMES}
    for a, b in itertools.combinations(PHOTO_NAMES, 2):
        assert hasher.distance(hashes[a], hashes[b]) > hasher.threshold, (a, b)


@ALL_HASHERS
def test_distance_refuses_mismatched_or_malformed_hashes(hasher: Hasher):
    h = hasher.hash_image(photo("coffee"))
    with pytest.raises(ValidationError, match="different lengths"):
        hasher.distance(h, h + "00")
    with pytest.raises(ValidationError, match="hex digits"):
        hasher.distance(h, "z" * len(h))


def test_imagehash_hex_agrees_with_imagehash_distance():
    # Reference: imagehash.ImageHash.__sub__ on the library's own objects.
    hasher = get_hasher("phash")
    a, b = (hasher.hash_image(photo(n)) for n in ("coffee", "rocket"))
    expected = imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b)
    assert hasher.distance(a, b) == expected


def test_pdq_hex_matches_the_pdqhash_bit_vector_and_reports_quality():
    img = photo("chelsea")
    bits, quality = pdqhash.compute(np.asarray(img))
    result = get_hasher("pdq").hash_with_quality(img)
    # ThreatExchange's packing: the 256 bits read as one big-endian binary number.
    assert result.hash == f"{int(''.join(map(str, bits)), 2):064x}"
    assert result.quality == quality == 100
    assert result.reliable


def test_pdq_marks_a_flat_image_unreliable():
    flat = Image.new("RGB", (200, 200), (120, 130, 140))
    result = get_hasher("pdq").hash_with_quality(flat)
    assert result.quality < PdqHasher.quality_threshold
    assert not result.reliable


@ALL_HASHERS
@pytest.mark.parametrize(
    "transpose",
    [Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_90],
    ids=["mirror", "rot90"],
)
def test_dihedral_variants_match_a_mirrored_or_turned_copy(hasher: Hasher, transpose):
    for name in ("astronaut", "rocket"):
        variants = hasher.hash_variants(photo(name))
        assert len(variants) == 8
        query = hasher.hash_bytes(jpeg_bytes(photo(name).transpose(transpose), 85))
        assert hasher.distance(variants[0], query) > hasher.threshold  # the plain hash misses it
        assert min(hasher.distance(v, query) for v in variants) <= hasher.threshold


def test_draft_decoding_of_12_megapixel_jpegs_stays_within_threshold_of_full_decoding():
    for name in ("coffee", "china"):
        img = photo(name)
        scale = (12_000_000 / (img.width * img.height)) ** 0.5
        big = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
        data = jpeg_bytes(big, 90)
        draft = open_image(data)
        full = open_image(data, min_side=None)
        assert full.size == big.size
        assert (
            min(draft.size) >= 512 and min(draft.size) < min(full.size) / 2
        )  # really decoded smaller
        for hasher in HASHERS.values():
            d = hasher.distance(hasher.hash_image(draft), hasher.hash_image(full))
            assert d <= hasher.threshold, (name, hasher.name, d)
