"""Use cases of the partners' matching API: the admin's API tokens, and what a partner's request reads and records.

A partner (a platform or a hotline) holds a token the admin issued: a high-entropy secret shown
once; dscr keeps only its SHA-256, its scopes (`vocab.PARTNER_SCOPES`, each the access action of
one kind of request), when it expires and whether it was revoked. A request acts as the partner
(role `partner`, no account), so the audit log names the partner and the policy decides as for
anyone else. What a partner may learn is decided here: whether hashes match, the distance and an
opaque entry id (`partners.index.opaque_id`), never a case reference, a source label or anything
about a participant; the hashes themselves are not written to the audit log either (the count and
the number matched are).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from db import access, audit
from db.context import Actor, Context, Runtime
from db.schema import HashEntry, Meta, PartnerToken, utcnow
from detection.hashing import HASHERS
from detection.index import pack_hashes
from errors import DscrError, NotFound, PermissionDenied, ValidationError
from vocab import PARTNER_SCOPES

# What the secret starts with, so that a leaked one is recognised by secret scanners and people.
TOKEN_PREFIX = "dscr_pt_"
MAX_VALID_DAYS = 366
DEFAULT_VALID_DAYS = 90
DEFAULT_SCOPES = PARTNER_SCOPES[:1]  # match.hashes: hashes in, answers out
_PARTNER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,63}")
# The meta row holding the key of the opaque entry ids (made once, on first use).
ENTRY_KEY = "partner_entry_key"
# Who reads the registry's hashes into a running server's index (no account: the server itself).
INDEX_READER = Actor(None, "api-index", "partner")


class NotAuthenticated(DscrError):
    """A request's token is missing, unknown, expired or revoked (the same error for all four)."""


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def partner_actor(partner: str) -> Actor:
    """The actor of a partner's requests: the audit log names the partner, not an account."""
    return Actor(None, f"partner:{partner}", "partner")


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is shown once and never stored (only its SHA-256 is)."""

    id: int
    partner: str
    secret: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime


@dataclass(frozen=True)
class TokenView:
    id: int
    partner: str
    scopes: tuple[str, ...]
    issued_by: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    def status(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def _check_partner(partner: str) -> str:
    name = (partner or "").strip().lower()
    if not _PARTNER_NAME.fullmatch(name):
        raise ValidationError(
            "partners.partner_name",
            "a partner's name must be 2..64 characters of a-z, 0-9, '.', '_' or '-' (e.g. "
            "'hotline-seoul'), got {partner!r}",
            partner=partner)
    return name


def _check_scopes(scopes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes))
    wrong = [s for s in chosen if s not in PARTNER_SCOPES]
    if not chosen or wrong:
        raise ValidationError(
            "partners.scopes",
            "a token's scopes must be one or more of {scopes}, got {given}",
            scopes=", ".join(PARTNER_SCOPES), given=", ".join(map(str, scopes)) or "none")
    return chosen


def issue_token(ctx: Context, *, partner: str, scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
                valid_days: int = DEFAULT_VALID_DAYS) -> IssuedToken:
    """Issue an API token to a partner; the secret is in the result and nowhere else."""
    access.require(ctx, "partner.manage")
    name = _check_partner(partner)
    chosen = _check_scopes(scopes)
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) \
            or not 1 <= valid_days <= MAX_VALID_DAYS:
        raise ValidationError("partners.valid_days",
                              "a token is valid for 1..{most} days, got {valid_days!r}",
                              most=MAX_VALID_DAYS, valid_days=valid_days)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with ctx.transaction() as s:
        row = PartnerToken(partner=name, token_hash=_hash_secret(secret), scopes=" ".join(chosen),
                           issued_by=ctx.actor.id, issued_at=now,
                           expires_at=now + dt.timedelta(days=valid_days))
        s.add(row)
        s.flush()
        token_id, expires = row.id, row.expires_at
    return IssuedToken(token_id, name, secret, chosen, expires)


def list_tokens(ctx: Context) -> list[TokenView]:
    """Every token ever issued, newest first (never a secret: dscr does not have them)."""
    from db.schema import Account

    access.require(ctx, "partner.manage")
    rows = ctx.session.execute(
        select(PartnerToken, Account.username)
        .join(Account, Account.id == PartnerToken.issued_by)
        .order_by(PartnerToken.id.desc())).all()
    views = [TokenView(t.id, t.partner, tuple(t.scopes.split()), who, t.issued_at, t.expires_at,
                       t.revoked_at) for t, who in rows]
    ctx.session.rollback()  # read only: no write lock taken
    return views


def revoke_token(ctx: Context, *, token_id: int) -> TokenView:
    """Revoke a token: the next request with it is refused, by every running server."""
    access.require(ctx, "partner.manage")
    with ctx.transaction() as s:
        row = s.get(PartnerToken, token_id)
        if row is None:
            raise NotFound("partners.no_token", "No API token {token_id}.", token_id=token_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            row.revoked_by = ctx.actor.id
        s.flush()
        return TokenView(row.id, row.partner, tuple(row.scopes.split()), ctx.actor.username,
                         row.issued_at, row.expires_at, row.revoked_at)


@dataclass(frozen=True)
class Partner:
    """Who a request's token belongs to, and what it may ask."""

    token_id: int
    name: str
    scopes: tuple[str, ...]

    @property
    def actor(self) -> Actor:
        return partner_actor(self.name)


def authenticate(runtime: Runtime, secret: str | None) -> Partner:
    """The partner whose valid token this is, or NotAuthenticated (missing, unknown, expired or
    revoked: one error, so nothing says which). Read on every request, so a revocation holds at
    once in every server process."""
    refused = NotAuthenticated(
        "partners.not_authenticated",
        "the API token is missing, unknown, expired or revoked; send 'Authorization: Bearer "
        "<token>' with a token the programme's admin issued to you")
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise refused
    with runtime.sessions() as s:
        row = s.scalars(select(PartnerToken).where(
            PartnerToken.token_hash == _hash_secret(secret))).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            raise refused
        return Partner(row.id, row.partner, tuple(row.scopes.split()))


def _require_scope(ctx: Context, partner: Partner, action: str) -> None:
    access.require(ctx, action)
    if action not in partner.scopes:
        ctx.record_denied(action, f"token {partner.token_id} of {partner.name} lacks the scope")
        raise PermissionDenied(
            "partners.scope_missing",
            "this API token may not {what} ({action}); ask the programme's admin for a token "
            "with that scope",
            what=access.ACTIONS[action], action=action)


def record_request(ctx: Context, *, token: Partner, kind: str, asked: int, matched: int) -> None:
    """Check the token's scope for a request of a kind ("hashes" or "image") and keep it in the
    audit log: the partner, the token, how many hashes were asked and how many matched (never
    the hashes)."""
    action = {"hashes": "match.hashes", "image": "match.image"}[kind]
    _require_scope(ctx, token, action)
    with ctx.transaction() as s:
        audit.record(s, "api_" + kind, table_name="partner_tokens", row_id=token.token_id,
                     detail=f"{token.name}: {asked} hashes asked, {matched} matched")


def entry_key(ctx: Context) -> bytes:
    """The key of the opaque entry ids partners see, made (32 random bytes) on first use."""
    access.require(ctx, "match.hashes")
    try:
        with ctx.transaction() as s:
            row = s.get(Meta, ENTRY_KEY)
            if row is None:
                row = Meta(key=ENTRY_KEY, value=secrets.token_hex(32))
                s.add(row)
            return bytes.fromhex(row.value)
    except IntegrityError:  # another server process made it first: use that one
        with ctx.transaction() as s:
            return bytes.fromhex(s.get(Meta, ENTRY_KEY).value)


@dataclass(frozen=True)
class RegistryHashes:
    """Registry rows of one algorithm for the matching index: ids and packed hashes only."""

    algorithm: str
    ids: np.ndarray
    words: np.ndarray


def registry_hashes(ctx: Context, *, after_id: int = 0, limit: int = 200_000
                    ) -> tuple[list[RegistryHashes], int | None]:
    """The registry's hashes with row ids above ``after_id`` (at most ``limit`` rows, oldest
    first), by algorithm, and the highest row id read (None when none was): what the matching
    index holds. No case, label or participant."""
    access.require(ctx, "match.hashes")
    rows = ctx.session.execute(
        select(HashEntry.id, HashEntry.algorithm, HashEntry.hash_hex)
        .where(HashEntry.id > after_id).order_by(HashEntry.id).limit(limit)).all()
    # Read only (every few seconds, by every server process): no write lock taken.
    ctx.session.rollback()
    by_alg: dict[str, tuple[list[int], list[str]]] = {}
    for rid, alg, hx in rows:
        if alg in HASHERS:  # an algorithm imported from a hash list that dscr cannot compute
            ids, hexes = by_alg.setdefault(alg, ([], []))
            ids.append(rid)
            hexes.append(hx.lower())
    return [RegistryHashes(alg, np.asarray(ids, dtype=np.int64),
                           pack_hashes(hexes, HASHERS[alg].bits))
            for alg, (ids, hexes) in by_alg.items()], (rows[-1][0] if rows else None)
