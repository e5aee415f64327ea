"""The real matching API server on a free loopback port, and a plain HTTP client for it."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import uvicorn

from api.app import create_app


@dataclasses.dataclass
class Reply:
    status: int
    body: dict
    headers: dict[str, str]


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, *, body: bytes | None = None, token: str | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = dict(headers or {})
            if token is not None:
                h["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            raw = r.read()
            return Reply(r.status, json.loads(raw) if raw else {},
                         {k.lower(): v for k, v in r.getheaders()})
        finally:
            conn.close()

    def match(self, token: str | None, hashes: list[dict]) -> Reply:
        return self.request("POST", "/v1/match", body=json.dumps({"hashes": hashes}).encode(),
                            token=token, headers={"Content-Type": "application/json"})


@contextmanager
def serving(rt, **kwargs):
    """Start the app under uvicorn in a thread on a socket bound to a free 127.0.0.1 port; stop
    it when the block ends. Waits (bounded) for uvicorn to say it has started."""
    app = create_app(rt, **kwargs)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield Client(port), app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def api_server():
    return serving
