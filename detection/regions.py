"""Crop-resistant matching: ORB keypoint signatures verified by a RANSAC similarity transform.

Whole-image hashes (PDQ, pHash) fail once a copy is cropped, framed or captioned: PDQ moves
70-160 bits of 256 under a 5-10% crop, and a 2.5% shift of a tile already moves it ~110 bits, so
hashes of fixed tiles would need an impractically fine grid. Local binary features do not care
where the frame is: this stage keeps, per image, up to ``n_features`` ORB keypoints (position and
32-byte descriptor, no pixels) and accepts a pair only when enough matched keypoints agree on one
plausible similarity transform (scale 0.2-5, rotation within 10 degrees of a quarter turn). On the
package photos unrelated pairs never reach more than 5 such inliers, while 5-20% crops, captions,
borders and screenshots give 17-500 (measured in tests/detection/test_regions.py).

It runs only where whole-image hashes found nothing, since it costs a pairwise comparison
(a few ms) per registry entry rather than an index lookup.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from detection.media import to_rgb, trim_borders
from errors import ValidationError

ALGORITHM = "orb-ransac-v1"
# Keypoints are found on a copy whose long side is at most this, so signatures from a 12 MP
# original and a 600 px re-upload describe the same scale of detail.
WORK_SIDE = 512
DEFAULT_FEATURES = 500
# Unrelated package photos reach at most 5 inliers after the transform check; the weakest true
# match measured (a 10% crop of skimage's retina, a smooth image) has 17.
DEFAULT_MIN_INLIERS = 12
_RATIO = 0.8  # Lowe's ratio test: the best match must clearly beat the second best.
_REPROJECTION_PX = 5.0
_SCALE_RANGE = (0.2, 5.0)
_MAX_ROTATION_OFF_DEG = 10.0
_MAGIC = b"DSRS"
_VERSION = 1
_HEADER = struct.Struct("<4sBHHI")  # magic, version, width, height, keypoint count


@dataclass(frozen=True, eq=False)
class RegionSignature:
    """ORB keypoints of one (border-trimmed, downscaled) image: positions and descriptors only."""

    width: int
    height: int
    points: np.ndarray  # float32 (n, 2): x, y in pixels of the working copy
    descriptors: np.ndarray  # uint8 (n, 32): 256-bit ORB descriptors
    algorithm: str = field(default=ALGORITHM)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_bytes(self) -> bytes:
        """A compact, versioned byte form for storage (about 40 bytes per keypoint)."""
        head = _HEADER.pack(_MAGIC, _VERSION, self.width, self.height, len(self))
        return (
            head + self.points.astype("<f4").tobytes() + self.descriptors.astype(np.uint8).tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> RegionSignature:
        """Read back what ``to_bytes`` wrote, refusing anything else with a reason."""
        if len(data) < _HEADER.size:
            raise ValidationError(
                "detection.region_signature_bytes_too",
                "region signature is {n_data} bytes, too short to hold its header",
                n_data=len(data)
            )
        magic, version, width, height, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise ValidationError(
                "detection.not_version_region_signature",
                "not a version {version} region signature (header {data!r}); recompute it with "
                "region_signature()",
                version=_VERSION, data=data[:5]
            )
        expected = _HEADER.size + count * (8 + 32)
        if len(data) != expected:
            raise ValidationError(
                "detection.region_signature_declares_keypoints",
                "region signature declares {count} keypoints ({expected} bytes) but holds "
                "{n_data} bytes; it is corrupt",
                count=count, expected=expected, n_data=len(data)
            )
        offset = _HEADER.size
        points = (
            np.frombuffer(data, dtype="<f4", count=count * 2, offset=offset)
            .reshape(count, 2)
            .astype(np.float32)
        )
        descriptors = np.frombuffer(
            data, dtype=np.uint8, count=count * 32, offset=offset + count * 8
        ).reshape(count, 32)
        return cls(width, height, points, descriptors.copy())

    def to_hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_hex(cls, text: str) -> RegionSignature:
        try:
            data = bytes.fromhex(text)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                "detection.region_signature_hex_non",
                "region signature hex has non-hex characters or an odd length"
            ) from exc
        return cls.from_bytes(data)


@dataclass(frozen=True)
class RegionMatch:
    """Outcome of comparing a query with one registry signature.

    ``score`` is the number of RANSAC inliers of a plausible transform (0 when the transform is not
    one a re-upload undergoes); ``detail`` holds the counts, the transform and the reason.
    """

    matched: bool
    score: float
    detail: dict


def region_signature(
    img: Image.Image,
    *,
    trim: bool = True,
    n_features: int = DEFAULT_FEATURES,
) -> RegionSignature:
    """Compute the crop-resistant signature of an image; the pixels are not kept.

    With ``trim`` (the default, and what both registry and query sides should use) uniform borders
    and letterboxing are removed first, so they do not spend keypoints on the frame.
    """
    import cv2  # Native library loaded only when this stage runs.

    if n_features < 8:
        raise ValidationError(
            "detection.n_features_least_transform",
            "n_features must be at least 8 for a transform to be verified, got {n_features}",
            n_features=n_features
        )
    rgb = trim_borders(img) if trim else to_rgb(img)
    grey = np.asarray(rgb.convert("L"))
    scale = WORK_SIDE / max(grey.shape)
    if scale < 1:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(nfeatures=n_features)
    keypoints, descriptors = orb.detectAndCompute(np.ascontiguousarray(grey), None)
    if descriptors is None or not keypoints:
        points = np.zeros((0, 2), dtype=np.float32)
        descriptors = np.zeros((0, 32), dtype=np.uint8)
    else:
        points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return RegionSignature(int(grey.shape[1]), int(grey.shape[0]), points, descriptors)


def match_regions(
    query_sig: RegionSignature,
    registry_sig: RegionSignature,
    *,
    min_inliers: int = DEFAULT_MIN_INLIERS,
) -> RegionMatch:
    """Decide whether the query shows (part of) the registry image.

    Descriptors are matched with Lowe's ratio test, then a similarity transform (rotation, uniform
    scale, shift) is fitted with RANSAC; the pair matches when at least ``min_inliers`` keypoints
    agree and the transform is one a re-upload could plausibly have undergone.
    """
    import cv2

    if min_inliers < 3:
        raise ValidationError(
            "detection.min_inliers_least_similarity",
            "min_inliers must be at least 3 (a similarity needs 2 points), got {min_inliers}",
            min_inliers=min_inliers
        )
    for role, sig in (("query", query_sig), ("registry", registry_sig)):
        if sig.algorithm != ALGORITHM:
            raise ValidationError(
                "detection.signature_made_stage_compares",
                "{role} signature was made by {sig_algorithm!r}, this stage compares "
                "{algorithm!r}; recompute it",
                role=role, sig_algorithm=sig.algorithm, algorithm=ALGORITHM
            )
    detail: dict = {"query_keypoints": len(query_sig), "registry_keypoints": len(registry_sig)}
    if len(query_sig) < 2 or len(registry_sig) < 2:
        return RegionMatch(
            False, 0.0, {**detail, "reason": "too few keypoints (flat or tiny image)"}
        )
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query_sig.descriptors, registry_sig.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO * p[1].distance]
    detail["good_matches"] = len(good)
    if len(good) < min_inliers:
        return RegionMatch(
            False, 0.0, {**detail, "inliers": 0, "reason": "too few distinctive keypoint matches"}
        )
    src = query_sig.points[[m.queryIdx for m in good]]
    dst = registry_sig.points[[m.trainIdx for m in good]]
    cv2.setRNGSeed(0)  # RANSAC samples at random; a fixed seed makes a scan repeatable.
    transform, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=_REPROJECTION_PX,
        maxIters=2000,
        confidence=0.99,
    )
    if transform is None or mask is None:
        return RegionMatch(
            False, 0.0, {**detail, "inliers": 0, "reason": "no consistent transform"}
        )
    inliers = int(mask.sum())
    scale = math.hypot(transform[0, 0], transform[1, 0])
    rotation = math.degrees(math.atan2(transform[1, 0], transform[0, 0]))
    rotation_off = min(abs(rotation - q) for q in (-180.0, -90.0, 0.0, 90.0, 180.0))
    detail.update(
        inliers=inliers,
        scale=float(scale),
        rotation_deg=float(rotation),
        shift_x=float(transform[0, 2]),
        shift_y=float(transform[1, 2]),
    )
    if not _SCALE_RANGE[0] <= scale <= _SCALE_RANGE[1] or rotation_off > _MAX_ROTATION_OFF_DEG:
        return RegionMatch(False, 0.0, {**detail, "reason": "implausible transform"})
    if inliers < min_inliers:
        return RegionMatch(
            False, float(inliers), {**detail, "reason": f"{inliers} inliers, below {min_inliers}"}
        )
    return RegionMatch(
        True, float(inliers), {**detail, "reason": f"{inliers} keypoints agree on one transform"}
    )
