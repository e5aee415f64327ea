"""The crop-resistant stage: crops and captions of a photo match it, other package photos do not."""

from __future__ import annotations

import io
import itertools
from functools import cache

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_images

from detection.hashing import get_hasher
from detection.media import open_image, trim_borders
from detection.regions import RegionSignature, match_regions, region_signature
from errors import ValidationError

# Twelve distinct package photographs (skimage's cat is chelsea again, so it is left out).
DISTINCT = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "china",
    "flower",
)
CHECKED = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")


@cache
def photo(name: str) -> Image.Image:
    if name in ("china", "flower"):
        return Image.fromarray(load_sample_images().images[("china", "flower").index(name)])
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


@cache
def registry_sig(name: str) -> RegionSignature:
    return region_signature(photo(name))


def reupload(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return open_image(buf.getvalue())


def crop(img: Image.Image, fraction: float) -> Image.Image:
    dx, dy = round(img.width * fraction), round(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def caption(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    top = img.height - img.height // 10
    draw.rectangle((0, top, img.width, img.height), fill=(0, 0, 0))
    draw.text((8, top + 4), "repost if you agree #viral", fill=(255, 255, 255))
    return out


TRANSFORMS = {
    "crop5": lambda img: crop(img, 0.05),
    "crop10": lambda img: crop(img, 0.10),
    "caption": caption,
    "crop10_caption_resize": lambda img: caption(crop(img, 0.10)).resize(
        (img.width // 2, img.height // 2)
    ),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS), ids=list(TRANSFORMS))
def test_region_stage_matches_where_whole_image_pdq_fails(transform):
    pdq = get_hasher("pdq")
    misses_by_pdq = 0
    for name in CHECKED:
        query = reupload(TRANSFORMS[transform](photo(name)))
        whole = pdq.distance(
            pdq.hash_image(trim_borders(query)), pdq.hash_image(trim_borders(photo(name)))
        )
        misses_by_pdq += whole > pdq.threshold
        result = match_regions(region_signature(query), registry_sig(name))
        assert result.matched, (name, result.detail)
        assert 0.8 < result.detail["scale"] < 1.25 or transform == "crop10_caption_resize"
    # The stage exists for these cases: whole-image PDQ misses most of them (all, for crops).
    assert misses_by_pdq >= len(CHECKED) - (3 if transform == "caption" else 0)


def test_region_stage_never_matches_two_different_package_photos():
    # 12 photos, 132 ordered pairs: the measured maximum is 5 inliers against a threshold of 12.
    scores = []
    for a, b in itertools.permutations(DISTINCT, 2):
        result = match_regions(registry_sig(a), registry_sig(b))
        assert not result.matched, (a, b, result.detail)
        scores.append(result.score)
    assert max(scores) < 12


def test_region_stage_does_not_match_a_crop_against_other_photos():
    for name in CHECKED:
        query = region_signature(reupload(crop(photo(name), 0.10)))
        for other in DISTINCT:
            if other != name:
                assert not match_regions(query, registry_sig(other)).matched, (name, other)


def test_signature_round_trips_through_bytes_and_hex_without_pixels():
    sig = registry_sig("coffee")
    data = sig.to_bytes()
    assert len(data) == 13 + 40 * len(sig) and len(sig) <= 500
    back = RegionSignature.from_hex(sig.to_hex())
    assert (back.width, back.height) == (sig.width, sig.height)
    np.testing.assert_array_equal(back.points, sig.points)
    np.testing.assert_array_equal(back.descriptors, sig.descriptors)
    query = region_signature(reupload(caption(photo("coffee"))))
    assert match_regions(query, back).score == match_regions(query, sig).score


def test_signature_refuses_corrupt_bytes():
    data = registry_sig("coffee").to_bytes()
    with pytest.raises(ValidationError, match="corrupt"):
        RegionSignature.from_bytes(data[:-7])
    with pytest.raises(ValidationError, match="not a version 1 region signature"):
        RegionSignature.from_bytes(b"XXXX" + data[4:])


def test_flat_image_has_no_keypoints_and_matches_nothing():
    flat = region_signature(Image.new("RGB", (300, 200), (200, 200, 200)))
    result = match_regions(flat, registry_sig("coffee"))
    assert not result.matched and "too few keypoints" in result.detail["reason"]
