"""Passwords: hashing with argon2id at argon2-cffi's defaults (rehashed when those change), and
which new passwords are refused."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from errors import Message


_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters

MIN_LENGTH = 12
MIN_SCORE = 3  # zxcvbn's 0..4: 3 is "safely unguessable", about 10^8 guesses or more
MAX_CHECKED = 128  # zxcvbn's time grows with length; a longer password is long enough anyway


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


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> Message | None:
    """Why a new password is refused, or None.

    At least MIN_LENGTH characters, no spaces at either end, and not guessable: zxcvbn's estimate
    (common passwords, words, names, keyboard patterns, dates, l33t, repeats) must reach
    MIN_SCORE of 4, with the account's own words (`user_inputs`: the username and display name)
    counted as the first words an attacker tries.
    """
    if len(password) < MIN_LENGTH:
        return Message("accounts.password_short",
                       "A password needs at least {min_length} characters; this one has {length}.",
                       min_length=MIN_LENGTH, length=len(password))
    if password.strip() != password:
        return Message("accounts.password_spaces",
                       "A password must not start or end with spaces.")
    words = _user_words(user_inputs)
    result = zxcvbn(password[:MAX_CHECKED], user_inputs=words, max_length=MAX_CHECKED)
    if result["score"] < MIN_SCORE:
        own = any(m.get("dictionary_name") == "user_inputs" for m in result.get("sequence", ()))
        warning = (result.get("feedback") or {}).get("warning") or (
            "it contains the username or name" if own else "it follows a pattern tried early")
        reason = warning.rstrip(".")
        return Message("accounts.password_weak",
                       "This password is too easy to guess ({reason}); choose a longer one, such "
                       "as a few unrelated words, without your name or username.",
                       reason=reason[:1].lower() + reason[1:])
    return None


def _user_words(user_inputs: Iterable[str]) -> list[str]:
    words: list[str] = []
    for text in user_inputs:
        if not text:
            continue
        words.append(text.lower())
        words += [w for w in re.split(r"[\s._-]+", text.lower()) if len(w) >= 3]
    return words
