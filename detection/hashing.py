"""Perceptual image hashers (pHash, dHash, wHash, PDQ) behind one interface, in a registry.

Each hasher declares its part in a match (``role``): one that ``decides`` flags on its own at its
threshold; one that ``corroborates`` counts only when a second algorithm agrees on the same
registry item. ``preference`` orders the algorithms a flag may name (the most specific first).
``DECIDING``, ``CORROBORATING`` and ``PREFERENCE`` are read from the registry, so a new hasher is
one class and one entry in ``HASHER_CLASSES``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from detection.media import DEFAULT_MAX_PIXELS, Source, open_image, to_rgb
from errors import ValidationError

# PIL's eight dihedral transforms (identity first), used where a hasher has no native variant code.
DIHEDRAL_TRANSPOSES: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


# What a hasher's match counts for (see the module docstring).
DECIDES = "decides"
CORROBORATES = "corroborates"
ROLES: tuple[str, ...] = (DECIDES, CORROBORATES)


@dataclass(frozen=True)
class HashResult:
    """A hash in hex with the hasher's quality score (None where the algorithm has none)."""

    hash: str
    quality: int | None
    reliable: bool


@dataclass(frozen=True)
class HashComparison:
    """Comparison of two hashes: Hamming distance and whether it is within threshold."""

    match: bool
    distance: int


class Hasher(ABC):
    """One perceptual hash algorithm.

    ``name`` is stored beside every hash, so it is an explicit constant: renaming a class must not
    orphan stored rows. ``threshold`` is the default match threshold, in bits, inclusive.
    ``role`` is DECIDES or CORROBORATES; ``preference`` ranks the hashers a flag may name (lower
    first), when several found the same registry item.
    """

    name: str
    bits: int
    threshold: int
    role: str
    preference: int

    @abstractmethod
    def hash_image(self, img: Image.Image) -> str:
        """Hash a decoded image to lower-case hex of ``bits // 4`` digits."""

    def hash_with_quality(self, img: Image.Image) -> HashResult:
        """Hash and report quality; algorithms without a quality measure report None, reliable."""
        return HashResult(self.hash_image(img), None, True)

    def hash_variants(self, img: Image.Image) -> tuple[str, ...]:
        """Hashes of the 8 rotations and mirrorings (identity first), for registry entries.

        A query's single hash is compared with all of them, so a flipped or quarter-turned copy
        matches.
        """
        rgb = to_rgb(img)
        return tuple(
            self.hash_image(rgb if t is None else rgb.transpose(t)) for t in DIHEDRAL_TRANSPOSES
        )

    def hash_bytes(self, data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
        """Decode an image held in memory and hash it; the bytes are not kept."""
        return self.hash_image(open_image(data, max_pixels=max_pixels))

    def hash_path(self, path: Source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
        """Decode an image file and hash it."""
        return self.hash_image(open_image(path, max_pixels=max_pixels))

    def validate_hex(self, value: str) -> str:
        """Return ``value`` as canonical lower-case hex, or raise ValidationError saying why not."""
        if not isinstance(value, str):
            raise ValidationError(
                "detection.hash_hex_string",
                "a {name} hash must be a hex string, got {type_name}",
                name=self.name, type_name=type(value).__name__
            )
        digits = self.bits // 4
        text = value.strip().lower()
        if not re.fullmatch(rf"[0-9a-f]{{{digits}}}", text):
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise ValidationError(
                "detection.hash_hex_digits_bits",
                "a {name} hash must be {digits} hex digits ({bits} bits), got {n_text} "
                "characters {shown!r}; check that it was made by the {name} hasher",
                name=self.name, digits=digits, bits=self.bits, n_text=len(text), shown=shown
            )
        return text

    def distance(self, a: str, b: str) -> int:
        """Hamming distance in bits between two hex hashes of this algorithm."""
        if isinstance(a, str) and isinstance(b, str) and len(a.strip()) != len(b.strip()):
            raise ValidationError(
                "detection.compare_hashes_different_lengths",
                "cannot compare {name} hashes of different lengths ({n_a} and {n_b} hex "
                "digits); compare hashes made by the same hasher",
                name=self.name, n_a=len(a.strip()), n_b=len(b.strip())
            )
        return hamming_hex(self.validate_hex(a), self.validate_hex(b))

    def compare(self, a: str, b: str, *, threshold: int | None = None) -> HashComparison:
        """Distance and match (distance <= threshold, the hasher's default unless given)."""
        limit = self.threshold if threshold is None else threshold
        if not 0 <= limit <= self.bits:
            raise ValidationError(
                "detection.threshold_bits",
                "threshold for {name} must be 0..{bits} bits, got {limit}",
                name=self.name, bits=self.bits, limit=limit
            )
        d = self.distance(a, b)
        return HashComparison(d <= limit, d)

    def __repr__(self) -> str:
        cls = type(self).__name__
        return f"{cls}(name={self.name!r}, bits={self.bits}, threshold={self.threshold})"


def hamming_hex(a: str, b: str) -> int:
    """Hamming distance between two equal-length hex strings (already validated)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


class _ImagehashHasher(Hasher):
    """Shared code for the imagehash algorithms (64-bit at hash_size 8)."""

    bits = 64
    hash_size = 8

    @staticmethod
    @abstractmethod
    def _function(img: Image.Image, hash_size: int) -> imagehash.ImageHash: ...

    def hash_image(self, img: Image.Image) -> str:
        return str(self._function(to_rgb(img), hash_size=self.hash_size))


class PHasher(_ImagehashHasher):
    """imagehash.phash: DCT of a 32x32 grey reduction, 8x8 low frequencies against their median."""

    name = "phash"
    # Measured on 12 package photos: JPEG q70, 50% resize, recolour and greyscale move pHash 0-8
    # bits; unrelated pairs sit at 20-44 (20 also against all 8 variants). 10 splits the two.
    threshold = 10
    role = DECIDES
    preference = 2
    _function = staticmethod(imagehash.phash)


class DHasher(_ImagehashHasher):
    """imagehash.dhash: signs of horizontal gradients of a 9x8 grey reduction."""

    name = "dhash"
    # Re-encodes, resizes and recolours move dHash 0-5 bits; unrelated pairs come as close as
    # 15 (13 against the 8 variants), so 10 keeps a margin on both sides.
    threshold = 10
    # On its own it matched a cropped distractor photo (bench.detection --quick: FPR 0.17 at
    # crop 10% and 5%), so it counts only when a second algorithm agrees.
    role = CORROBORATES
    preference = 3
    _function = staticmethod(imagehash.dhash)


class WHasher(_ImagehashHasher):
    """imagehash.whash: Haar wavelet low band of a grey reduction against its median."""

    name = "whash"
    # Re-encodes and recolours move wHash 0-2 bits, but unrelated pairs come as close as 14
    # (12 against the 8 variants): the narrowest margin of the four, so wHash is a second opinion
    # (like dHash, it matched a cropped distractor on its own in bench.detection).
    threshold = 10
    role = CORROBORATES
    preference = 4
    _function = staticmethod(imagehash.whash)


def _pdq_bits_to_hex(bits: np.ndarray) -> str:
    # python-threatexchange's packing of PDQ bits, so hashes exchange with HMA and ThreatExchange.
    return "".join(
        f"{int(''.join(map(str, chunk)), 2):x}" for chunk in np.asarray(bits).reshape(-1, 4)
    )


class PdqHasher(Hasher):
    """Meta's PDQ (256-bit) through the ``pdqhash`` binding, with its 0..100 quality score."""

    name = "pdq"
    bits = 256
    # ThreatExchange's PDQ_CONFIDENT_MATCH_THRESHOLD.
    threshold = 31
    # 256 bits and a quality score: the most specific of the four, named first in a flag.
    role = DECIDES
    preference = 1
    # PDQ's documentation: hashes of quality below 50 come from flat or featureless images and
    # match too easily to be trusted.
    quality_threshold = 50

    @staticmethod
    def _array(img: Image.Image) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(to_rgb(img), dtype=np.uint8))

    def hash_with_quality(self, img: Image.Image) -> HashResult:
        bits, quality = pdqhash.compute(self._array(img))
        quality = int(quality)
        return HashResult(_pdq_bits_to_hex(bits), quality, quality >= self.quality_threshold)

    def hash_image(self, img: Image.Image) -> str:
        return self.hash_with_quality(img).hash

    def hash_variants(self, img: Image.Image) -> tuple[str, ...]:
        # compute_dihedral works on one DCT; order: original, rot90, rot180, rot270, flipx, flipy,
        # flip over the main diagonal, flip over the other diagonal.
        vectors, _quality = pdqhash.compute_dihedral(self._array(img))
        return tuple(_pdq_bits_to_hex(v) for v in vectors)


# The registry is this explicit tuple: a new algorithm is one class above and one entry here.
HASHER_CLASSES: tuple[type[Hasher], ...] = (PHasher, DHasher, WHasher, PdqHasher)


def build_registry(classes: Iterable[type[Hasher]]) -> dict[str, Hasher]:
    """Instantiate hashers keyed by their ``name``, refusing a missing or duplicated name.

    A class that declares no valid ``role`` or ``preference`` is a programming error, refused
    with ValueError when the module is imported.
    """
    registry: dict[str, Hasher] = {}
    for cls in classes:
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError("detection.hasher_class_set_own",
                                  "hasher class {name} must set its own constant `name`",
                                  name=cls.__name__)
        if name in registry:
            raise ValidationError(
                "detection.hasher_name_used_both",
                "hasher name {name!r} is used by both {type_name} and {name_2}; each hasher "
                "needs a unique name",
                name=name, type_name=type(registry[name]).__name__, name_2=cls.__name__
            )
        role = getattr(cls, "role", None)
        if role not in ROLES:
            raise ValueError(
                f"hasher class {cls.__name__} must declare its role as one of {ROLES}, got {role!r}"
            )
        rank = getattr(cls, "preference", None)
        if not isinstance(rank, int) or isinstance(rank, bool):
            raise ValueError(f"hasher class {cls.__name__} must declare an integer `preference`")
        same = [n for n, h in registry.items() if h.preference == rank]
        if same:
            raise ValueError(
                f"hashers {same[0]!r} and {name!r} share preference {rank}; give each its own rank"
            )
        registry[name] = cls()
    return registry


HASHERS: dict[str, Hasher] = build_registry(HASHER_CLASSES)


def by_preference(registry: dict[str, Hasher]) -> tuple[str, ...]:
    """The registry's hasher names, the most preferred first."""
    return tuple(sorted(registry, key=lambda n: registry[n].preference))


def with_role(registry: dict[str, Hasher], role: str) -> tuple[str, ...]:
    """The names of the registry's hashers that declare ``role``, the most preferred first."""
    return tuple(n for n in by_preference(registry) if registry[n].role == role)


# dscr's default combination, as the hashers declare it (matching.Matcher uses it).
PREFERENCE: tuple[str, ...] = by_preference(HASHERS)
DECIDING: tuple[str, ...] = with_role(HASHERS, DECIDES)
CORROBORATING: tuple[str, ...] = with_role(HASHERS, CORROBORATES)


def get_hasher(name: str) -> Hasher:
    """The registered hasher called ``name``."""
    try:
        return HASHERS[name]
    except (KeyError, TypeError):
        raise ValidationError(
            "detection.unknown_hasher_choose_one",
            "unknown hasher {name!r}; choose one of {hashers}",
            name=name, hashers=', '.join(sorted(HASHERS))
        ) from None
