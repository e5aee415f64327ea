"""The partners' API tokens: issued by the admin, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, update

from db.schema import AuditLog, Meta, PartnerToken
from errors import NotFound, PermissionDenied, ValidationError
from partners import service


@pytest.fixture
def admin(make_account):
    return make_account("admin")


def issue(rt, actor, **kw):
    with rt.context(actor) as ctx:
        return service.issue_token(ctx, **{"partner": "hotline-seoul", **kw})


def test_a_token_is_shown_once_and_kept_only_as_its_sha256(rt, admin):
    t = issue(rt, admin, scopes=["match.hashes", "match.image"], valid_days=30)
    assert t.secret.startswith("dscr_pt_") and len(t.secret) > 40
    with rt.sessions() as s:
        row = s.get(PartnerToken, t.id)
        assert row.token_hash == hashlib.sha256(t.secret.encode()).hexdigest()
        assert t.secret not in " ".join(str(v) for v in vars(row).values())
        logged = " ".join(f"{e.fields} {e.detail}" for e in s.scalars(select(AuditLog)))
    assert t.secret not in logged and row.token_hash not in logged
    assert (row.expires_at - row.issued_at) == dt.timedelta(days=30)
    partner = service.authenticate(rt, t.secret)
    assert partner == service.Partner(t.id, "hotline-seoul", ("match.hashes", "match.image"))
    assert partner.actor.role == "partner" and partner.actor.username == "partner:hotline-seoul"


def test_unknown_expired_and_revoked_tokens_get_one_and_the_same_refusal(rt, admin):
    good, old, gone = (issue(rt, admin, partner=p) for p in ("a-platform", "b-platform", "c-hotline"))
    with rt.sessions() as s:
        s.execute(update(PartnerToken).where(PartnerToken.id == old.id).values(
            issued_at=dt.datetime(2020, 1, 1), expires_at=dt.datetime(2020, 2, 1)))
        s.commit()
    with rt.context(admin) as ctx:
        view = service.revoke_token(ctx, token_id=gone.id)
    assert view.revoked_at is not None
    messages = set()
    for secret in (old.secret, gone.secret, good.secret[:-2] + "xx", "", None, "Bearer x"):
        with pytest.raises(service.NotAuthenticated) as err:
            service.authenticate(rt, secret)
        messages.add(str(err.value))
    assert len(messages) == 1
    assert service.authenticate(rt, good.secret).name == "a-platform"
    with rt.context(admin) as ctx:
        listed = {t.id: t for t in service.list_tokens(ctx)}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert {i: t.status(now) for i, t in listed.items()} == {
        good.id: "active", old.id: "expired", gone.id: "revoked"}
    assert list(listed) == sorted(listed, reverse=True)


def test_only_the_admin_manages_tokens(rt, admin, make_account):
    for role in ("reviewer", "counselor", "partner"):
        with rt.context(make_account(role)) as ctx, pytest.raises(PermissionDenied):
            service.issue_token(ctx, partner="x-platform")
        with rt.context(make_account(role)) as ctx, pytest.raises(PermissionDenied):
            service.list_tokens(ctx)
    with rt.context(admin) as ctx, pytest.raises(NotFound, match="No API token 999"):
        service.revoke_token(ctx, token_id=999)


@pytest.mark.parametrize("kw,code", [
    ({"partner": "Bad Name!"}, "partners.partner_name"),
    ({"scopes": ["registry.manage"]}, "partners.scopes"),
    ({"scopes": []}, "partners.scopes"),
    ({"valid_days": 0}, "partners.valid_days"),
    ({"valid_days": 400}, "partners.valid_days"),
])
def test_a_bad_name_scope_or_lifetime_is_refused(rt, admin, kw, code):
    with pytest.raises(ValidationError) as err:
        issue(rt, admin, **kw)
    assert err.value.code == code
    with rt.sessions() as s:
        assert s.scalars(select(PartnerToken)).all() == []


def test_a_request_outside_the_tokens_scopes_is_refused_and_logged(rt, admin):
    t = issue(rt, admin, scopes=["match.hashes"])
    partner = service.authenticate(rt, t.secret)
    with rt.context(partner.actor) as ctx:
        service.record_request(ctx, token=partner, kind="hashes", asked=7, matched=2)
    with rt.context(partner.actor) as ctx, pytest.raises(PermissionDenied, match="match.image"):
        service.record_request(ctx, token=partner, kind="image", asked=1, matched=0)
    with rt.sessions() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.actor == "partner:hotline-seoul")
                         .order_by(AuditLog.id)).all()
    assert [(r.action, r.row_id, r.detail) for r in rows] == [
        ("api_hashes", str(t.id), "hotline-seoul: 7 hashes asked, 2 matched"),
        ("denied", None, f"match.image: token {t.id} of hotline-seoul lacks the scope"),
    ]


def test_the_index_reads_hashes_and_row_ids_only_and_the_entry_key_is_made_once(rt, make_account):
    from detection import service as detection

    reviewer = make_account("reviewer")
    csv = ("algorithm,hash,case\n" + f"pdq,{'ab' * 32},SYN-API-1\n" + f"phash,{'0f' * 8},SYN-API-1\n"
           + f"pdq,{'cd' * 32},SYN-API-2\n")
    with rt.context(reviewer) as ctx:
        detection.import_hash_list_bytes(ctx, csv.encode(), new_cases=True)
    with rt.context(service.INDEX_READER) as ctx:
        batches, last = service.registry_hashes(ctx)
        key = service.entry_key(ctx)
        assert service.entry_key(ctx) == key and len(key) == 32
        later, none = service.registry_hashes(ctx, after_id=last)
    assert {b.algorithm: b.ids.shape[0] for b in batches} == {"pdq": 2, "phash": 1}
    assert last == max(int(b.ids.max()) for b in batches)
    assert (later, none) == ([], None)
    assert set(vars(batches[0])) == {"algorithm", "ids", "words"}
    with rt.sessions() as s:
        assert s.get(Meta, service.ENTRY_KEY).value == key.hex()
    with rt.context(reviewer) as ctx, pytest.raises(PermissionDenied):
        service.registry_hashes(ctx)
