"""Password hashing with argon2id at argon2-cffi's defaults, rehashed when those change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from errors import Message

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters

MIN_LENGTH = 10


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Swap the hasher (tests use cheap parameters; a deployment never calls this). Returns the old one."""
    global _hasher
    old, _hasher = _hasher, hasher
    return old


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def password_problem(password: str) -> Message | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return Message("db.password_too_short", "A password needs at least {min_length} characters.",
                       min_length=MIN_LENGTH)
    if password.strip() != password:
        return Message("db.password_spaces", "A password must not start or end with spaces.")
    return None
