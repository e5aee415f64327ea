"""deploy/nginx/dscr.conf run by Debian's nginx in front of the e2e dashboard: TLS, headers, limits."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import ipaddress
import os
import re
import shutil
import ssl
import subprocess
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, click_until, login, open_page, wait_idle, watch_session_ids
from tests.pg import free_port

pytestmark = pytest.mark.e2e

NGINX = os.environ.get("DSCR_NGINX", "/usr/sbin/nginx")
TEMPLATE = ROOT / "deploy" / "nginx" / "dscr.conf"
UPLOAD_MIB = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
}


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (its own CA), never kept beyond the test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def proxy(dashboard, tmp_path_factory):
    """(https base, ssl context, http port) of nginx running deploy/nginx/dscr.conf before the dashboard."""
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: `make test` installs Debian's nginx (scripts/ensure-browser.sh)")
    base, _, _ = dashboard
    tmp = tmp_path_factory.mktemp("nginx")
    cert, key = _self_signed(tmp)
    port, http_port = free_port(), free_port()
    site = TEMPLATE.read_text()
    for placeholder, value in {"@@LISTEN@@": f"127.0.0.1:{port}", "@@HTTP_LISTEN@@": f"127.0.0.1:{http_port}",
                               "@@SERVER_NAME@@": "127.0.0.1", "@@CERT@@": str(cert), "@@KEY@@": str(key),
                               "@@UPSTREAM@@": base.removeprefix("http://")}.items():
        site = site.replace(placeholder, value)
    assert "@@" not in site
    (tmp / "dscr.conf").write_text(site)
    # Everything nginx writes stays in tmp; as root its workers would otherwise be `nobody`, who
    # cannot enter pytest's 0700 temp folders.
    (tmp / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/dscr.conf;
}}
""")
    test = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    log = open(tmp / "nginx.out", "w")
    proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                            stdout=log, stderr=subprocess.STDOUT)
    tls = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _, body = _request(port, tls, "GET", "/_stcore/health")
            if status == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("nginx did not start:\n" + (tmp / "nginx.out").read_text()
                               + (tmp / "error.log").read_text())
        time.sleep(0.2)
    yield f"https://127.0.0.1:{port}", tls, http_port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(tmp / "body", ignore_errors=True)


def _request(port, tls, method, path, headers=None, body=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _port(proxy) -> int:
    return int(proxy[0].rsplit(":", 1)[1])


def _assert_security_headers(headers: dict) -> None:
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (name, headers.get(name))
    assert headers["server"] == "nginx"  # no version


def test_the_page_and_a_static_file_carry_the_security_headers(proxy):
    _, tls, _ = proxy
    status, headers, body = _request(_port(proxy), tls, "GET", "/")
    assert status == 200 and b"<html" in body.lower()
    _assert_security_headers(headers)
    script = re.search(rb'src="\.?/?(static/js/[^"]+\.js)"', body).group(1).decode()
    status, headers, body = _request(_port(proxy), tls, "GET", "/" + script)
    assert status == 200 and len(body) > 1000
    _assert_security_headers(headers)
    assert "javascript" in headers["content-type"]


def test_health_answers_and_metrics_are_refused(proxy):
    _, tls, _ = proxy
    assert _request(_port(proxy), tls, "GET", "/_stcore/health")[::2] == (200, b"ok")
    for path in ("/_stcore/metrics", "/_stcore/metrics?families=session_state", "/_stcore/metrics/"):
        status, headers, body = _request(_port(proxy), tls, "GET", path)
        assert status == 404, path
        assert b"session" not in body and b"nginx/" not in body
        _assert_security_headers(headers)


def test_plain_http_only_redirects_to_https(proxy):
    _, _, http_port = proxy
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    conn.request("GET", "/_stcore/health")
    r = conn.getresponse()
    assert r.status == 301 and r.getheader("Location") == "https://127.0.0.1/_stcore/health"
    conn.close()


def _put_upload(port: int, tls, path: str, size: int, headers: dict, *, chunked: bool) -> int:
    """PUT a multipart upload of a file of `size` bytes (rounded down to whole MiB; its length
    declared or chunked) and return the status the server answers."""
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=30)
    head = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.zip"\r\n'
            b"Content-Type: application/zip\r\n\r\n")
    tail = b"\r\n--x--\r\n"
    conn.putrequest("PUT", path)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    mib = size >> 20
    declared = len(head) + (mib << 20) + len(tail)
    conn.putheader("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(declared))
    conn.endheaders()
    # A well-formed multipart body holding one file of zeros, sent a MiB at a time.
    pieces = [head] + [b"\0" * (1 << 20)] * mib + [tail]
    try:
        for piece in pieces:
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # refused mid-body: the answer is waiting
    try:
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_body_over_the_upload_limit_is_refused_by_the_proxy(proxy):
    _, tls, _ = proxy
    over = (UPLOAD_MIB + 2) << 20
    path = "/_stcore/upload_file/00000000-0000-0000-0000-000000000000/f"
    assert _put_upload(_port(proxy), tls, path, over, {}, chunked=False) == 413
    # Chunked, nginx cannot tell the size up front; it passes the body on as it comes, and the
    # dashboard refuses a session nobody logged in to (nothing kept; the answer is not a 502).
    assert _put_upload(_port(proxy), tls, path, 8 << 20, {}, chunked=True) == 403
    # Everywhere else a body is not needed at all.
    assert _put_upload(_port(proxy), tls, "/", 1 << 20, {}, chunked=False) == 413


def _scan_zip() -> bytes:
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(7)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(2):
            img = Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            z.writestr(f"synthetic-{i}.png", buf.getvalue())
    return out.getvalue()


def test_a_reviewer_scans_an_uploaded_zip_through_the_proxy_and_an_oversized_one_is_refused(
        dashboard, proxy, browser, tmp_path):
    direct, accounts, _ = dashboard
    base, tls, _ = proxy
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ko-KR",
                                  ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    uploads = []
    page.on("request", lambda r: uploads.append(r) if "/_stcore/upload_file/" in r.url
            and r.method == "PUT" else None)
    try:
        login(page, base, "reviewer1", accounts["reviewer1"])  # the websocket runs through nginx
        expect(page.get_by_text("reviewer1 님, 환영합니다.")).to_be_visible()
        open_page(page, "재유포 검사")
        page.get_by_role("tab", name="zip 파일 올리기").click()
        form = page.locator("[data-testid='stForm']").filter(has_text="검사할 zip 파일")
        form.locator("input[type='file']").set_input_files(
            {"name": "synthetic-scan.zip", "mimeType": "application/zip", "buffer": _scan_zip()})
        expect(form.get_by_text("synthetic-scan.zip")).to_be_visible()
        form.get_by_role("button", name="검사 시작").click()
        expect(page.get_by_text(re.compile(r"검사 \S+을\(를\) 마쳤습니다\."))).to_be_visible(timeout=90_000)
        wait_idle(page)
        page.screenshot(path=str(tmp_path / "scan-through-proxy.png"), full_page=True)
        assert uploads, "the browser sent no upload"
        request = uploads[0]
        assert request.url.startswith(base)
        # The same logged-in session, the same XSRF token: a body over the limit is refused by
        # nginx and, behind it, by Streamlit itself (server.maxUploadSize).
        sent = request.all_headers()
        auth = {k: sent[k] for k in ("cookie", "x-xsrftoken") if k in sent}
        assert "x-xsrftoken" in auth
        path = request.url.removeprefix(base)
        # A file just under the limit gets through both (the limits agree); one over it does not.
        assert _put_upload(_port(proxy), tls, path, (UPLOAD_MIB - 1) << 20, auth, chunked=False) == 204
        over = (UPLOAD_MIB + 2) << 20
        assert _put_upload(_port(proxy), tls, path, over, auth, chunked=False) == 413
        assert _put_upload(_port(proxy), tls, path, over, auth, chunked=True) == 413
        direct_port = int(direct.rsplit(":", 1)[1])
        assert _put_upload(direct_port, None, path, over, auth, chunked=False) == 413
        assert _put_upload(direct_port, None, path, over, auth, chunked=True) == 413
        # Logged out, the same session may no longer upload at all.
        click_until(page, page.get_by_role("button", name="로그아웃", exact=True),
                    page.get_by_text("세션이 종료되었습니다"))
        assert _put_upload(_port(proxy), tls, path, 1 << 20, auth, chunked=False) == 403
        assert _put_upload(direct_port, None, path, 1 << 20, auth, chunked=False) == 403
    finally:
        context.close()


def test_a_session_nobody_logged_in_to_cannot_upload(dashboard, proxy, browser):
    """What anyone who reaches the port can do: open the log-in page (a live Streamlit session and
    an XSRF cookie) and PUT files under its session id. dashboard/serve.py's guard says 403."""
    direct, _, _ = dashboard
    base, tls, _ = proxy
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    sessions = watch_session_ids(page)
    # A browser asking for a page is sent to the log-in form (no Streamlit session at all); a
    # client that asks for anything but HTML gets the app, and with it a session nobody logged in to.
    page.route("**/*", lambda route: route.continue_(headers={**route.request.headers, "accept": "*/*"}))
    try:
        page.goto(base)
        wait_idle(page)
        expect(page.get_by_text("로그인한 뒤에 볼 수 있습니다")).to_be_visible()
        assert sessions, "no session id seen on the websocket"
        xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_streamlit_xsrf")
        auth = {"cookie": f"_streamlit_xsrf={xsrf}", "x-xsrftoken": xsrf}
        path = f"/_stcore/upload_file/{sessions[-1]}/00000000-0000-0000-0000-000000000001"
        assert _put_upload(_port(proxy), tls, path, 1 << 20, auth, chunked=False) == 403
        direct_port = int(direct.rsplit(":", 1)[1])
        assert _put_upload(direct_port, None, path, 1 << 20, auth, chunked=False) == 403
        assert _put_upload(direct_port, None, path, 8 << 20, auth, chunked=True) == 403
    finally:
        context.close()
