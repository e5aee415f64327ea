"""The partners' matching API over HTTP: a real uvicorn server on a free loopback port, on SQLite
and PostgreSQL."""

from __future__ import annotations

import dataclasses
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from db.schema import AuditLog
from detection import service as detection
from detection.hashing import HASHERS
from partners import service as partners
from tests.api.conftest import serving

PDQ_A, PDQ_B = "ab" * 32, "5a" * 32
PHASH_A = "0f" * 8


def flip(hx: str, *bits: int) -> str:
    value = int(hx, 16)
    for b in bits:
        value ^= 1 << b
    return f"{value:0{len(hx)}x}"


@pytest.fixture
def world(rt, make_account):
    admin, reviewer = make_account("admin"), make_account("reviewer")
    csv = ("algorithm,hash,case\n" f"pdq,{PDQ_A},SYN-API-1\n" f"phash,{PHASH_A},SYN-API-1\n")
    with rt.context(reviewer) as ctx:
        detection.import_hash_list_bytes(ctx, csv.encode(), new_cases=True)
    with rt.context(admin) as ctx:
        both = partners.issue_token(ctx, partner="hotline-seoul",
                                    scopes=["match.hashes", "match.image"])
        hashes_only = partners.issue_token(ctx, partner="platform-x", scopes=["match.hashes"])
    return {"rt": rt, "admin": admin, "reviewer": reviewer, "token": both.secret,
            "hashes_only": hashes_only.secret, "token_id": both.id}


def test_a_partner_learns_match_distance_and_an_opaque_entry_never_the_case(world):
    with serving(world["rt"]) as (client, _app):
        assert client.request("GET", "/v1/health").body == {"status": "ok", "ready": True}
        r = client.match(world["token"], [
            {"algorithm": "pdq", "hash": flip(PDQ_A, 1, 77, 200)},
            {"algorithm": "pdq", "hash": PDQ_B},
            {"algorithm": "phash", "hash": PHASH_A.upper()},
        ])
        again = client.match(world["token"], [{"algorithm": "pdq", "hash": PDQ_A}])
    assert r.status == 200, r.body
    assert (r.body["asked"], r.body["matched"]) == (3, 2)
    first, second, third = r.body["results"]
    assert (first["match"], first["distance"], second["match"], second["distance"]) == (True, 3, False, None)
    assert second["matches"] == [] and third["hash"] == PHASH_A and third["distance"] == 0
    entry = first["matches"][0]["entry"]
    assert len(entry) == 24 and entry == again.body["results"][0]["matches"][0]["entry"]
    assert entry != third["matches"][0]["entry"]
    text = json.dumps(r.body)
    assert "SYN-API" not in text and "case" not in text and "label" not in text
    assert set(first) == {"algorithm", "hash", "match", "distance", "matches"}
    with world["rt"].sessions() as s:
        logged = s.scalars(select(AuditLog).where(AuditLog.action == "api_hashes")
                           .order_by(AuditLog.id)).all()
    assert [(e.actor, e.row_id, e.detail) for e in logged] == [
        ("partner:hotline-seoul", str(world["token_id"]), "hotline-seoul: 3 hashes asked, 2 matched"),
        ("partner:hotline-seoul", str(world["token_id"]), "hotline-seoul: 1 hashes asked, 1 matched"),
    ]
    assert all(PDQ_A not in (e.detail or "") for e in logged)


def test_a_hash_added_to_the_registry_is_matched_by_the_running_server(world):
    late = "3c" * 32
    with serving(world["rt"], refresh_seconds=1) as (client, app):
        assert client.match(world["token"], [{"algorithm": "pdq", "hash": late}]).body["matched"] == 0
        state = app.state.matching
        seen = state.refreshes
        with world["rt"].context(world["reviewer"]) as ctx:
            detection.import_hash_list_bytes(
                ctx, f"algorithm,hash,case\npdq,{late},SYN-API-9\n".encode(), new_cases=True)
        # Two refreshes after the write: the one under way may have read before it.
        with state.refreshed:
            assert state.refreshed.wait_for(lambda: state.refreshes >= seen + 2, timeout=30)
        r = client.match(world["token"], [{"algorithm": "pdq", "hash": flip(late, 5)}])
    assert r.body["matched"] == 1 and r.body["results"][0]["distance"] == 1


def test_bad_tokens_get_401_with_a_json_error(world):
    with serving(world["rt"]) as (client, _app):
        replies = [client.match(tok, [{"algorithm": "pdq", "hash": PDQ_A}])
                   for tok in (None, "dscr_pt_nothing", world["token"] + "x")]
        with world["rt"].context(world["admin"]) as ctx:
            partners.revoke_token(ctx, token_id=world["token_id"])
        replies.append(client.match(world["token"], [{"algorithm": "pdq", "hash": PDQ_A}]))
    for r in replies:
        assert r.status == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.body["error"]["code"] == "partners.not_authenticated"
        assert "Authorization: Bearer" in r.body["error"]["message"]


@pytest.mark.parametrize("body,status,code,says", [
    (b"{not json", 400, "api.json_invalid", "not valid JSON"),
    (b'{"hashes": "pdq"}', 422, "api.request_invalid", "hashes"),
    (b'{"hashes": [{"algorithm": "pdq"}]}', 422, "api.request_invalid", "hashes.0.hash"),
    (json.dumps({"hashes": [{"algorithm": "pdq", "hash": "ab" * 31}]}).encode(), 422,
     "partners.bad_hash", "hash #0: a pdq hash must be 64 hex digits"),
    (json.dumps({"hashes": [{"algorithm": "md5", "hash": "ab"}]}).encode(), 422,
     "partners.unknown_algorithm", "use one of dhash, pdq, phash, whash"),
    (json.dumps({"hashes": [{"algorithm": "phash", "hash": "00" * 8}] * 1001}).encode(), 422,
     "partners.too_many_hashes", "at most 1000"),
])
def test_malformed_requests_get_a_clear_4xx_and_nothing_is_matched(world, body, status, code, says):
    with serving(world["rt"]) as (client, _app):
        r = client.request("POST", "/v1/match", body=body, token=world["token"],
                           headers={"Content-Type": "application/json"})
    assert (r.status, r.body["error"]["code"]) == (status, code), r.body
    assert says in r.body["error"]["message"]
    with world["rt"].sessions() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.action == "api_hashes")).all() == []


def test_an_oversized_body_gets_413_declared_or_chunked(world):
    big = json.dumps({"hashes": [{"algorithm": "pdq", "hash": PDQ_A}] * 4000}).encode()
    assert len(big) > 256 * 1024
    with serving(world["rt"]) as (client, _app):
        declared = client.request("POST", "/v1/match", body=big, token=world["token"],
                                  headers={"Content-Type": "application/json"})
        chunked = client.request("POST", "/v1/match", body=iter([big[i:i + 65536] for i in
                                                                  range(0, len(big), 65536)]),
                                 token=world["token"],
                                 headers={"Content-Type": "application/json"})
    # http.client sends an iterable body chunked, with no Content-Length.
    for r in (declared, chunked):
        assert r.status == 413 and r.body["error"]["code"] == "api.body_too_large"


def test_each_token_is_rate_limited_with_retry_after(world):
    rt = world["rt"]
    rt.settings = dataclasses.replace(rt.settings, api_rate=1, api_burst=3)
    q = [{"algorithm": "phash", "hash": PHASH_A}]
    with serving(rt) as (client, _app):
        first = [client.match(world["token"], q).status for _ in range(4)]
        other = client.match(world["hashes_only"], q).status
    assert first == [200, 200, 200, 429] and other == 200
    with serving(rt) as (client, _app):
        for _ in range(3):
            client.match(world["token"], q)
        r = client.match(world["token"], q)
    assert r.status == 429 and r.body["error"]["code"] == "api.rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60


def test_a_token_without_the_image_scope_gets_403_and_an_image_is_hashed_and_matched(world):
    img = Image.fromarray(np.random.default_rng(4).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    png = io.BytesIO()
    img.save(png, format="PNG")
    pdq = HASHERS["pdq"].hash_image(img)
    with world["rt"].context(world["reviewer"]) as ctx:
        detection.import_hash_list_bytes(
            ctx, f"algorithm,hash,case\npdq,{pdq},SYN-API-IMG\n".encode(), new_cases=True)
    headers = {"Content-Type": "image/png"}
    with serving(world["rt"]) as (client, _app):
        denied = client.request("POST", "/v1/hash-and-match", body=png.getvalue(),
                                token=world["hashes_only"], headers=headers)
        ok = client.request("POST", "/v1/hash-and-match", body=png.getvalue(), token=world["token"],
                            headers=headers)
        junk = client.request("POST", "/v1/hash-and-match", body=b"not an image at all",
                              token=world["token"], headers=headers)
        form = client.request("POST", "/v1/hash-and-match", body=b"--x--\r\n", token=world["token"],
                              headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert denied.status == 403 and denied.body["error"]["code"] == "partners.scope_missing"
    assert ok.status == 200, ok.body
    by_alg = {r["algorithm"]: r for r in ok.body["results"]}
    assert set(by_alg) == {"pdq", "phash"}
    assert by_alg["pdq"]["match"] and by_alg["pdq"]["distance"] == 0 and by_alg["pdq"]["hash"] == pdq
    assert junk.status == 422 and "not a supported image" in junk.body["error"]["message"]
    assert form.status == 415 and form.body["error"]["code"] == "api.send_image_bytes"
    with world["rt"].sessions() as s:
        logged = [(e.action, e.detail) for e in s.scalars(
            select(AuditLog).where(AuditLog.actor.like("partner:%")).order_by(AuditLog.id))]
    assert logged == [
        ("denied", f"match.image: token {world['token_id'] + 1} of platform-x lacks the scope"),
        ("api_image", "hotline-seoul: 2 hashes asked, 1 matched"),
    ]


def test_the_openapi_document_describes_the_endpoints_and_their_errors(world):
    with serving(world["rt"]) as (client, _app):
        doc = client.request("GET", "/openapi.json").body
    assert {"/v1/match", "/v1/health", "/v1/hash-and-match"} <= set(doc["paths"])
    assert {"400", "401", "403", "413", "422", "429"} <= set(doc["paths"]["/v1/match"]["post"]["responses"])
    image = doc["paths"]["/v1/hash-and-match"]["post"]
    assert "image/jpeg" in image["requestBody"]["content"] and "415" in image["responses"]


def test_concurrent_requests_are_all_answered_and_audited(world):
    answers, lock = [], threading.Lock()
    rt = world["rt"]
    rt.settings = dataclasses.replace(rt.settings, api_burst=1000)

    with serving(rt) as (client, _app):
        def ask():
            r = client.match(world["token"], [{"algorithm": "pdq", "hash": PDQ_A}])
            with lock:
                answers.append((r.status, r.body.get("matched")))

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == [(200, 1)] * 8
    with rt.sessions() as s:
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "api_hashes")).all()) == 8
