"""CSRF protection, Origin checks and security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookies import Morsel
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDict

from app.auth import current
from app.errors import NotAuthenticated, PermissionDenied
from app.settings import Settings, settings_key
from app.tokens import new_token, plausible_token, same

CSRF_COOKIE = "csrf"
csrf_cookie_rkey = web.RequestKey("csrf_cookie", str)
new_csrf_cookie_rkey = web.RequestKey("new_csrf_cookie", str)
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HSTS = "max-age=31536000; includeSubDomains"
security_headers_key = web.AppKey("security_headers", dict[str, str])
public_api_key = web.AppKey("public_api_paths", set[str])


def allow_anonymous(app: web.Application, path: str) -> None:
    """Lets anonymous callers POST to this API path (e.g. an online application): they carry
    no credentials, so there is nothing a cross-site request could ride on."""
    app.setdefault(public_api_key, set()).add(path)


def content_security_policy(base_url: str) -> str:
    """The CSP; WebSockets may go to this deployment's own origin only (its room signaling)."""
    origin = urlsplit(base_url)
    sockets = f"{'wss' if origin.scheme == 'https' else 'ws'}://{origin.netloc}"
    return (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        f"style-src 'self'; script-src 'self'; connect-src 'self' {sockets}; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


def response_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(settings.base_url),
        "X-Content-Type-Options": "nosniff",
        # "same-origin", not "no-referrer": with no-referrer Chromium sends `Origin: null` on form
        # posts, which the CSRF origin check must refuse. Token URLs set no-referrer themselves.
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
    }
    if settings.https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def setup(app: web.Application) -> None:
    app[security_headers_key] = response_headers(app[settings_key])
    app.on_response_prepare.append(add_security_headers)


def csrf_token(request: web.Request) -> str:
    """The token forms must echo: the session's, or a per-browser cookie before login."""
    principal = current(request)
    if principal.csrf_token:
        return principal.csrf_token
    token = request.get(csrf_cookie_rkey) or request.cookies.get(CSRF_COOKIE)
    if not plausible_token(token):  # absent, or something we never issued
        token = None
    if not token:
        token = new_token()
        request[new_csrf_cookie_rkey] = token
    request[csrf_cookie_rkey] = token
    return token


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host


async def check_csrf(request: web.Request) -> None:
    if request.method in SAFE_METHODS or current(request).via_api:
        return
    if request.path.startswith("/api/") and current(request).kind == "anonymous":
        if request.path in request.app.get(public_api_key, set()):
            return
        raise NotAuthenticated("The API token is missing, wrong or revoked.")
    if not same_origin(request):
        raise PermissionDenied("Cross-site request refused.")
    cookie = request.cookies.get(CSRF_COOKIE)
    expected = current(request).csrf_token or (cookie if plausible_token(cookie) else None)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # request.post() parses the body once and caches it: handlers read the same parse
        # (files through app.uploads), never the raw stream, which this has consumed.
        sent = (await request.post()).get(CSRF_FIELD)  # type: ignore[assignment]
    if not expected or not isinstance(sent, str) or not same(expected, sent):
        raise PermissionDenied("The form has expired. Please reload the page and try again.")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.status == 101:
        # A WebSocket handshake: no document to protect and no cookie set, and every open
        # socket would keep these headers for its life (≈ 1 KB each).
        return
    headers = response.headers
    for name, value in request.app[security_headers_key].items():
        headers.setdefault(name, value)
    secure = request.app[settings_key].https
    new_cookie = request.get(new_csrf_cookie_rkey)
    if new_cookie:
        morsel: Morsel[str] = Morsel()
        morsel.set(CSRF_COOKIE, new_cookie, new_cookie)
        morsel.update({"path": "/", "httponly": "1", "samesite": "Lax"})
        if secure:
            morsel["secure"] = True
        headers.add("Set-Cookie", morsel.OutputString())
    if secure:
        _mark_cookies_secure(headers)


def _mark_cookies_secure(headers: CIMultiDict[str]) -> None:
    # This hook runs after aiohttp has serialised the response's cookies, so every cookie any
    # view sets (or deletes, as logout does) is made Secure here, in one place.
    cookies = headers.getall("Set-Cookie", [])
    if all(_is_secure(cookie) for cookie in cookies):
        return
    del headers["Set-Cookie"]
    for cookie in cookies:
        headers.add("Set-Cookie", cookie if _is_secure(cookie) else f"{cookie}; Secure")


def _is_secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";")[1:])
