"""Field encryption for names, contacts and notes, under a key file that lives outside the database."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from db import files
from errors import ConfigurationError

_CHECK_PLAINTEXT = b"dscr key check v1"


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


def create_key_file(path: Path) -> None:
    """Write a new key readable by its owner only (0600), refusing to overwrite one."""
    files.private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key() + b"\n")


def read_key_lines(path: Path, what: str = "DSCR_KEY_FILE") -> list[bytes]:
    if path.is_dir():
        raise ConfigurationError(
            "db.key_file_folder",
            "The key file {path} ({what}) is a folder, not a file; point {what} at the key "
            "file itself.",
            path=path, what=what)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(
            "db.key_file_does_not",
            "The key file {path} ({what}) does not exist. Point {what} at the key this database "
            "was created with; without it the encrypted fields cannot be read.",
            path=path, what=what
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            "db.key_file_unreadable",
            "The key file {path} ({what}) cannot be read ({reason}); check that {what} names "
            "a file this account may read.",
            path=path, what=what, reason=exc.strerror or type(exc).__name__) from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            "db.key_file_read_other",
            "The key file {path} can be read by other users (mode {mode:o}); run chmod 600 "
            "{path}.",
            path=path, mode=mode
        )
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.startswith(b"#")]
    if not lines:
        raise ConfigurationError("db.key_file_empty",
                                 "The key file {path} ({what}) is empty.",
                                 path=path, what=what)
    return lines


@dataclass
class Keyring:
    """The field keys, newest first: encrypts with the first, decrypts with any (for rotation)."""

    keys: list[bytes]

    def __post_init__(self) -> None:
        try:
            self._fernets = [Fernet(k) for k in self.keys]
        except (ValueError, TypeError):
            raise ConfigurationError(
                "db.key_file_does_not_2",
                "The key file does not hold a valid key (each line must be a 44-character "
                "url-safe base64 Fernet key)."
            ) from None
        self._multi = MultiFernet(self._fernets)

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> Keyring:
        if create and not path.exists():
            create_key_file(path)
        return cls(read_key_lines(path))

    @property
    def primary_id(self) -> str:
        return _key_id(self.keys[0])

    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise ConfigurationError(
                "db.encrypted_field_decrypted_keys",
                "An encrypted field cannot be decrypted with the keys in DSCR_KEY_FILE: the key "
                "file belongs to another database, or the field was damaged."
            ) from None

    def check_value(self) -> str:
        return self._multi.encrypt(_CHECK_PLAINTEXT).decode("ascii")

    def verify_check_value(self, token: str) -> None:
        try:
            ok = self._multi.decrypt(token.encode("ascii")) == _CHECK_PLAINTEXT
        except InvalidToken:
            ok = False
        if not ok:
            raise ConfigurationError(
                "db.key_dscr_key_file",
                "The key in DSCR_KEY_FILE (key id {primary_id}) is not the key this database "
                "was encrypted with. Point DSCR_KEY_FILE at the right key file; do not create a "
                "new one, or the encrypted names, contacts and notes are lost.",
                primary_id=self.primary_id
            )
