"""Log-in outside Streamlit: the page that sets the HttpOnly cookie which binds a log-in to a browser.

A Streamlit session id is no secret: it travels in upload URLs (and so in proxy logs), and any
client that presents it to `/_stcore/stream` is attached to that session. So the dashboard keeps
no log-in in `st.session_state`. The browser holds the server-side session's random token in a
cookie the page's scripts cannot read (HttpOnly), that other sites' requests do not carry
(SameSite=Strict), sent over TLS only behind the proxy (Secure); every run of the dashboard reads
it from the run's own connection (`st.context.cookies`) and asks the store whether it names a
live session. A refresh or a new tab sends the cookie again and stays logged in; another client
with only the session id sends none and gets the log-in page; log-out ends the session in the
store, so every tab holding the cookie is logged out at its next click.

Routes (mounted by dashboard/serve.py, beside Streamlit's own):
    GET  /dscr/login    the form (Korean; `?lang=en` for English), with the privacy notice
    POST /dscr/login    check the password, set the cookie, 303 to the page asked for
    GET  /dscr/logout   end this browser's session, clear the cookie, back to the form
and `LoginGate`, a middleware that sends a browser opening a dashboard page without a live
session to the form first.
"""

from __future__ import annotations

import functools
import html
import urllib.parse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from accounts import service as accounts
from dashboard.i18n import LANGUAGES, t
from dashboard.messages import localise
from errors import DscrError, ValidationError

COOKIE = "dscr_session"
LOGIN_PATH = "/dscr/login"
LOGOUT_PATH = "/dscr/logout"
# Streamlit's own paths, which a browser fetches as part of a page (never a page itself).
_NOT_PAGES = ("/_stcore/", "/static/", "/media/", "/component/", "/app/static/", "/dscr/",
              "/favicon", "/manifest", "/robots.txt", "/auth/", "/oauth2callback")


def _runtime():
    from dashboard import state

    return state.runtime()


def _secure(request: Request) -> bool:
    # Behind deploy/nginx/dscr.conf the dashboard is plain HTTP on 127.0.0.1 and the proxy says
    # so; a Secure cookie would never come back over the demo's plain http://127.0.0.1.
    return (request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another site (`//evil`, `https:`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("/dscr/"):
        return "/"
    return urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))


def _lang(request: Request, form: dict | None = None) -> str:
    lang = (form or {}).get("lang") or request.query_params.get("lang") or "ko"
    return lang if lang in LANGUAGES else "ko"


def _page(lang: str, next_path: str, *, error: str | None = None, info: str | None = None,
          status: int = 200, change: bool = False, username: str = "") -> HTMLResponse:
    """The log-in form; with `change`, also the new password a one-time password asks for (the
    one-time password is typed again: nothing of it is sent back to the browser)."""
    e = html.escape
    new_fields = (f"""<label for="new_password">{e(t("new_password", lang))}</label>
<input type="password" id="new_password" name="new_password" required autocomplete="new-password">
<label for="new_password2">{e(t("new_password_again", lang))}</label>
<input type="password" id="new_password2" name="new_password2" required autocomplete="new-password">
""" if change else "")
    other = "en" if lang == "ko" else "ko"
    query = urllib.parse.urlencode({"lang": other, "next": next_path})
    notices = "".join(f'<p class="{cls}" role="{role}">{e(text)}</p>'
                      for cls, role, text in (("error", "alert", error), ("info", "status", info))
                      if text)
    body = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>dscr · {e(t("login", lang))}</title>
<style>
body {{ font-family: "Noto Sans KR", "NanumGothic", "Source Sans Pro", sans-serif; margin: 0;
       background: #f6f7f9; color: #1f2430; }}
main {{ max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem 2.5rem;
       border-radius: .6rem; box-shadow: 0 1px 4px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.35rem; }} h2 {{ font-size: 1.05rem; margin-top: 1.5rem; }}
label {{ display: block; margin-top: 1rem; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: .55rem;
       font-size: 1rem; border: 1px solid #c4c8d0; border-radius: .35rem; margin-top: .3rem; }}
.ack {{ display: flex; gap: .5rem; align-items: flex-start; }}
button {{ margin-top: 1.4rem; padding: .6rem 1.4rem; font-size: 1rem; border: 0; border-radius: .35rem;
         background: #ff4b4b; color: #fff; cursor: pointer; }}
.error {{ background: #fdecec; color: #7d1a1a; padding: .7rem; border-radius: .35rem; }}
.info {{ background: #e8f1fd; color: #1a3d7d; padding: .7rem; border-radius: .35rem; }}
nav {{ text-align: right; font-size: .9rem; }}
</style></head>
<body><main>
<nav><a href="{LOGIN_PATH}?{e(query)}">{e(LANGUAGES[other])}</a></nav>
<h1>{e(t("app_title", lang))}</h1>
{notices}
<h2>{e(t("privacy_title", lang))}</h2>
<p>{e(t("privacy_notice", lang))}</p>
<form method="post" action="{LOGIN_PATH}" autocomplete="off">
<input type="hidden" name="lang" value="{lang}">
<input type="hidden" name="next" value="{e(next_path)}">
<label for="username">{e(t("username", lang))}</label>
<input type="text" id="username" name="username" value="{e(username)}" required autofocus autocapitalize="none" spellcheck="false">
<label for="password">{e(t("one_time_password" if change else "password", lang))}</label>
<input type="password" id="password" name="password" required autocomplete="current-password">
{new_fields}<label class="ack"><input type="checkbox" name="ack" value="1"> <span>{e(t("privacy_ack", lang))}</span></label>
<button type="submit">{e(t("login", lang))}</button>
</form>
</main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    """A log-in form posted from another site is refused (log-in CSRF).

    Browsers say where a request comes from in Sec-Fetch-Site; those that do not send Origin,
    which must then name this host. (The pages' no-referrer policy makes a browser send
    `Origin: null` even from this site, so Sec-Fetch-Site is asked first.) A request with neither
    is not from a browser (a script, a test) and has no victim to forge it for.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urllib.parse.urlsplit(origin).netloc == request.headers.get("host")


async def login_form(request: Request) -> Response:
    lang = _lang(request)
    info = t("session_ended", lang) if request.query_params.get("ended") else None
    return _page(lang, safe_next(request.query_params.get("next")), info=info)


async def login_submit(request: Request) -> Response:
    form = dict(await request.form())
    lang = _lang(request, form)
    next_path = safe_next(form.get("next"))
    if not _same_origin(request):
        return _page(lang, next_path, error=t("login_cross_site", lang), status=403)
    if not form.get("ack"):
        return _page(lang, next_path, error=t("privacy_required", lang), status=400)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    new_password = form.get("new_password")
    if new_password is not None and new_password != form.get("new_password2"):
        return _page(lang, next_path, error=t("new_passwords_differ", lang), status=400,
                     change=True, username=username)
    try:
        rt = _runtime()  # a missing or misplaced key file is said here, in one line
        actor = await run_in_threadpool(
            functools.partial(accounts.authenticate, rt, username, password,
                              new_password=None if new_password is None else str(new_password)))
        token = await run_in_threadpool(accounts.start_login_session, rt, actor)
    except accounts.LoginFailed:
        return _page(lang, next_path, error=t("login_failed", lang), status=401)
    except accounts.PasswordChangeRequired:
        return _page(lang, next_path, info=t("password_change_required", lang), change=True,
                     username=username)
    except ValidationError as exc:  # the new password is too weak: say why, ask again
        return _page(lang, next_path, error=localise(exc, lang), status=400, change=True,
                     username=username)
    except DscrError as exc:
        return _page(lang, next_path, error=localise(exc, lang), status=503)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
                        path="/", secure=_secure(request), httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


async def logout(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(_end, token, request.query_params.get("everywhere") == "1")
    response = RedirectResponse(f"{LOGIN_PATH}?lang={_lang(request)}", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True,
                           samesite="strict")
    return response


def _end(token: str, everywhere: bool) -> None:
    accounts.end_login_session(_runtime(), token, everywhere=everywhere)


def is_live(token: str) -> bool:
    """Whether the token names a live log-in session (and touches it, as a page view does)."""
    try:
        return accounts.resume_login_session(_runtime(), token) is not None
    except DscrError:
        return False  # the store cannot be reached: the form says why when the user logs in


ROUTES = [Route(LOGIN_PATH, login_form, methods=["GET"]),
          Route(LOGIN_PATH, login_submit, methods=["POST"]),
          Route(LOGOUT_PATH, logout, methods=["GET"])]


def cookie_from_scope(scope) -> str | None:
    """The log-in cookie of a raw ASGI request (for middleware, before Starlette parses it)."""
    from starlette.requests import cookie_parser

    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(COOKIE)
    return None


class LoginGate:
    """ASGI middleware: a browser opening a dashboard page (a GET that asks for HTML) without a
    live session is sent to the log-in form, with the page it asked for to come back to.

    The dashboard checks the cookie again on every run; this only spares the browser a Streamlit
    page that can show nothing but "log in".
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if is_page(scope):
            token = cookie_from_scope(scope)
            live = token is not None and await run_in_threadpool(is_live, token)
            if not live:
                path = scope["path"] + ("?" + scope["query_string"].decode("latin-1")
                                        if scope.get("query_string") else "")
                query = {"next": safe_next(path)}
                if token is not None:
                    query["ended"] = "1"
                await RedirectResponse(f"{LOGIN_PATH}?{urllib.parse.urlencode(query)}",
                                       status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_page(scope) -> bool:
    """Whether an ASGI request is a browser opening a dashboard page: a GET (or HEAD) asking for
    HTML, outside Streamlit's own paths and dscr's routes, and not a file."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    path = scope["path"]
    if path.startswith(_NOT_PAGES) or "." in path.rsplit("/", 1)[-1]:
        return False
    accept = next((v for k, v in scope.get("headers", []) if k == b"accept"), b"")
    return b"text/html" in accept
