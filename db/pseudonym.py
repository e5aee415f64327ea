"""Study codes: keyed HMACs under a key of their own, so a code reveals nothing without that key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from db import files
from db.crypto import read_key_lines
from errors import ConfigurationError

_CHECK_MESSAGE = b"dscr study-code key check v1"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread


def create_study_key(path: Path) -> None:
    files.private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode("ascii") + b"\n")


class StudyCoder:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the study-code key must be at least 32 bytes")
        self._key = key

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> StudyCoder:
        if create and not path.exists():
            create_study_key(path)
        return cls(read_key_lines(path, "DSCR_STUDY_KEY_FILE")[0])

    def check_value(self) -> str:
        """What the meta table keeps to recognise this key: an HMAC of a fixed text (it reveals
        nothing of the key, and is not a study code of anyone)."""
        return "hmac-sha256:" + hmac.new(self._key, _CHECK_MESSAGE, hashlib.sha256).hexdigest()

    def verify_check_value(self, value: str, *, path: Path | str = "") -> None:
        """Refuse a key that is not the one the database's study codes were made with: with
        another key the same intake would be registered again under a second code."""
        if not hmac.compare_digest(value, self.check_value()):
            raise ConfigurationError(
                "config.study_key_mismatch",
                "The key in DSCR_STUDY_KEY_FILE ({path}) is not the study-code key of this "
                "database: with it, a participant registered before would get a second study "
                "code. Point DSCR_STUDY_KEY_FILE at the key file this database was created with; "
                "do not create a new one.",
                path=str(path))

    def code(self, intake_id: str) -> str:
        """A stable code for an intake identifier (e.g. the referral number): 'P-' + 10 base32 chars."""
        digest = hmac.new(self._key, intake_id.encode("utf-8"), hashlib.sha256).digest()
        n = int.from_bytes(digest[:8], "big")
        chars = []
        for _ in range(10):
            n, r = divmod(n, 32)
            chars.append(_ALPHABET[r])
        return "P-" + "".join(chars)
