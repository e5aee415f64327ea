"""The partners' matching API: FastAPI app, JSON errors, body limits, rate limits, and the live index.

A face, as thin as a dashboard page: it reads the request, authenticates the token
(`partners.service.authenticate`), matches in memory (`partners.index.LiveIndex`) and records the
request through the partners' use cases. What crosses the network to a partner is in the
response models below and nothing else: per hash, whether it matched, the nearest distance and
the opaque ids and distances of the nearest registry entries (never a case, a label or anything
about a participant).

The registry's hashes are read at start-up, then a refresh thread reads the rows added since
(every ``DSCR_API_REFRESH_SECONDS``) and folds long tails into a new index in the background, so a
hash added to the registry is matchable within seconds, without a restart or a full rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.context import Runtime
from detection.hashing import DECIDING, HASHERS
from errors import DscrError, NotFound, PermissionDenied, StoreUnavailable, ValidationError
from partners import service
from partners.index import (
    MAX_QUERIES,
    LiveIndex,
    Query,
    QueryResult,
    TokenBucket,
    opaque_id,
    parse_queries,
)

# Request bodies: 1,000 hashes of 64 hex digits with their algorithm names fit in well under
# 256 KiB; an uploaded image at most 20 MiB (the bytes are hashed in memory and dropped).
MAX_MATCH_BODY = 256 * 1024
MAX_IMAGE_BODY = 20 * 1024 * 1024
# Rows re-read below the watermark at each refresh: on PostgreSQL a transaction may commit a row
# whose id is lower than one already read (ids are taken when inserted, not when committed).
LOOKBACK_IDS = 10_000


log = logging.getLogger("dscr.api")


# --- what a partner sends and receives --------------------------------------------------------

class HashQuery(BaseModel):
    algorithm: str = Field(description="pdq, phash, dhash or whash", examples=["pdq"])
    hash: str = Field(description="hex: 64 digits for PDQ (as ThreatExchange and StopNCII "
                      "exchange it), 16 for pHash, dHash and wHash")


class MatchRequest(BaseModel):
    hashes: list[HashQuery] = Field(description=f"1..{MAX_QUERIES} hashes")


class EntryMatch(BaseModel):
    entry: str = Field(description="an opaque registry entry id: stable for one entry, never a "
                       "case reference")
    distance: int = Field(description="Hamming distance in bits")


class HashResult(BaseModel):
    algorithm: str
    hash: str
    match: bool
    distance: int | None = Field(description="the nearest matching entry's distance, or null")
    matches: list[EntryMatch] = Field(description="the nearest matching entries (at most 10)")


class MatchResponse(BaseModel):
    asked: int
    matched: int
    results: list[HashResult]


class Health(BaseModel):
    status: str
    ready: bool


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 403, 413, 422, 429)}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None
           ) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


# --- the server's state: index, refresh thread, rate limits -----------------------------------

class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class Limiter:
    """One token bucket per API token, in this process (each server process limits on its own)."""

    def __init__(self, rate: int, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[int, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, token_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(token_id)
            if bucket is None:
                bucket = self._buckets[token_id] = TokenBucket(self.rate, self.burst, now)
            wait = bucket.take(now)
        if wait:
            raise RateLimited(wait)


class MatchingState:
    """The live index of one server process and the thread that keeps it current."""

    def __init__(self, runtime: Runtime, *, refresh_seconds: float, index: LiveIndex | None = None
                 ) -> None:
        self.runtime = runtime
        self.index = index or LiveIndex()
        self.refresh_seconds = refresh_seconds
        self.key = b""
        self.ready = threading.Event()
        self.refreshed = threading.Condition()
        self.refreshes = 0
        self._recent: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> int:
        """Read the registry rows the index does not hold yet; returns how many were added."""
        added = 0
        with self.runtime.context(service.INDEX_READER, task="api index") as ctx:
            if not self.key:
                self.key = service.entry_key(ctx)
            after = max(0, self.index.watermark - LOOKBACK_IDS) if self.index.watermark else 0
            while True:
                batches, last = service.registry_hashes(ctx, after_id=after)
                if last is None:
                    break
                known = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
                for b in batches:
                    keep = ~np.isin(b.ids, known)
                    if keep.any():
                        self.index.add(b.algorithm, b.words[keep], b.ids[keep])
                        added += int(keep.sum())
                after = last
                # Only ids inside the look-back window are read again; remember just those.
                floor = self.index.watermark - LOOKBACK_IDS
                self._recent = {i for i in self._recent if i > floor} | {
                    int(i) for b in batches for i in b.ids[b.ids > floor]}
        return added

    def start(self) -> None:
        self.load()
        self.index.fold(force=True)
        self.ready.set()
        self._thread = threading.Thread(target=self._run, name="dscr-api-index", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.load()
                if self.index.needs_fold():
                    self.index.fold()
            except Exception as exc:  # the database may be away: try again next time
                # The kind of failure only: a message could quote a row.
                log.warning("reading new registry hashes failed (%s); trying again in %s s",
                            type(exc).__name__, self.refresh_seconds)
                continue
            with self.refreshed:
                self.refreshes += 1
                self.refreshed.notify_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def answer(self, results: list[QueryResult]) -> MatchResponse:
        out = [HashResult(algorithm=r.algorithm, hash=r.hash, match=r.matched, distance=r.distance,
                          matches=[EntryMatch(entry=opaque_id(self.key, rid), distance=d)
                                   for rid, d in r.matches])
               for r in results]
        return MatchResponse(asked=len(out), matched=sum(r.match for r in out), results=out)


# --- the app ------------------------------------------------------------------------------

class BodyLimit:
    """Refuse a request body over its path's limit with 413, whether it declares its length or
    is sent in chunks, before the app reads it."""

    def __init__(self, app, limits: dict[str, int], default: int = 16 * 1024) -> None:
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, "api.body_too_large",
                         f"the request body is over this endpoint's limit of {limit} bytes; "
                         f"send at most {MAX_QUERIES} hashes a request (or a smaller image)")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_big(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await too_big(scope, receive, send)
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(runtime: Runtime, *, index: LiveIndex | None = None,
               refresh_seconds: float | None = None) -> FastAPI:
    """The matching API over a runtime (its database holds the registry and the tokens)."""
    settings = runtime.settings
    state = MatchingState(runtime, index=index,
                          refresh_seconds=refresh_seconds or settings.api_refresh_seconds)
    limiter = Limiter(settings.api_rate, settings.api_burst)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state.start()
        yield
        state.stop()

    app = FastAPI(
        title="dscr matching API",
        version="1",
        description=(
            "Ask whether perceptual hashes (or an uploaded image, hashed and dropped) match the "
            "registry of known victims' images, without receiving the registry. Authenticate "
            "with `Authorization: Bearer <token>`; the programme's admin issues tokens per "
            "partner. A partner receives, per hash, match or no match, the distance and opaque "
            "entry ids; never a case reference or anything about a person."),
        lifespan=lifespan,
    )
    app.state.matching = state
    app.state.limiter = limiter

    def partner_of(request: Request) -> service.Partner:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        partner = service.authenticate(runtime, secret.strip() if scheme.lower() == "bearer" else None)
        limiter.take(partner.token_id)
        return partner

    def respond(partner: service.Partner, kind: str, queries: list[Query]) -> MatchResponse:
        if "match." + kind not in partner.scopes:  # refused before any work, by the use case
            with runtime.context(partner.actor, task="api") as ctx:
                service.record_request(ctx, token=partner, kind=kind, asked=0, matched=0)
        answer = state.answer(state.index.match(queries))
        with runtime.context(partner.actor, task="api") as ctx:
            service.record_request(ctx, token=partner, kind=kind, asked=answer.asked,
                                   matched=answer.matched)
        return answer

    @app.get("/v1/health", response_model=Health)
    def health() -> Health:
        """Whether the server is up and has read the registry (no token needed; no figures)."""
        return Health(status="ok", ready=state.ready.is_set())

    @app.post("/v1/match", response_model=MatchResponse, responses=ERRORS)
    def match(body: MatchRequest, partner: service.Partner = Depends(partner_of)) -> MatchResponse:
        """Match up to 1,000 hashes against the registry (scope `match.hashes`)."""
        queries = parse_queries([h.model_dump() for h in body.hashes])
        return respond(partner, "hashes", queries)

    def hash_image(partner: service.Partner, data: bytes) -> MatchResponse:
        if "match.image" not in partner.scopes:
            return respond(partner, "image", [])
        try:
            queries = [Query(alg, HASHERS[alg].hash_bytes(data)) for alg in DECIDING]
        except ValidationError:
            raise
        except Exception:  # whatever the decoder says, the partner gets one answer
            raise ValidationError("api.image_unreadable",
                                  "the upload could not be read as an image; send a JPEG, PNG or "
                                  "WebP file") from None
        return respond(partner, "image", queries)

    binary = {"schema": {"type": "string", "format": "binary"}}

    @app.post("/v1/hash-and-match", response_model=MatchResponse,
              responses={**ERRORS, 415: {"model": ErrorResponse}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  t: binary for t in ("image/jpeg", "image/png", "image/webp",
                                      "application/octet-stream")}}})
    async def hash_and_match(request: Request,
                             partner: service.Partner = Depends(partner_of)) -> MatchResponse:
        """Hash an image sent as the request body (its bytes, e.g. `Content-Type: image/jpeg`)
        with the deciding hashers (PDQ, pHash), drop it, and match the hashes (scope
        `match.image`). The bytes stay in this process's memory: never written to disk."""
        if request.headers.get("content-type", "").startswith("multipart/"):
            return _error(415, "api.send_image_bytes",
                          "send the image's bytes as the request body (Content-Type: image/jpeg, "
                          "image/png or image/webp), not a form")
        data = await request.body()  # already in memory: BodyLimit read it
        return await run_in_threadpool(hash_image, partner, data)

    @app.exception_handler(service.NotAuthenticated)
    async def _unauthenticated(_r: Request, exc: DscrError) -> JSONResponse:
        return _error(401, exc.code, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(PermissionDenied)
    async def _denied(_r: Request, exc: DscrError) -> JSONResponse:
        return _error(403, exc.code, str(exc))

    @app.exception_handler(ValidationError)
    async def _invalid(_r: Request, exc: DscrError) -> JSONResponse:
        return _error(422, exc.code, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_r: Request, exc: DscrError) -> JSONResponse:
        return _error(404, exc.code, str(exc))

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_r: Request, exc: DscrError) -> JSONResponse:
        return _error(503, exc.code, "the service cannot reach its database; try again shortly")

    @app.exception_handler(RateLimited)
    async def _limited(_r: Request, exc: RateLimited) -> JSONResponse:
        seconds = max(1, int(exc.retry_after + 0.999))
        return _error(429, "api.rate_limited",
                      f"too many requests with this token; try again in {seconds} s",
                      {"Retry-After": str(seconds)})

    @app.exception_handler(RequestValidationError)
    async def _malformed(_r: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, "api.json_invalid", "the request body is not valid JSON")
        first = problems[0] if problems else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return _error(422, "api.request_invalid",
                      f"{where or 'body'}: {first.get('msg', 'invalid')}; see /docs for the "
                      "request's shape")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, f"api.http_{exc.status_code}", str(exc.detail))

    app.add_middleware(BodyLimit, limits={"/v1/match": MAX_MATCH_BODY,
                                          "/v1/hash-and-match": MAX_IMAGE_BODY})
    return app


def from_environment() -> FastAPI:
    """The app for `uvicorn --factory` and `dscr api --workers N`: one runtime per process, from
    the DSCR_ variables."""
    from db.context import require_schema

    runtime = Runtime()
    require_schema(runtime)
    runtime.check_key()
    return create_app(runtime)

