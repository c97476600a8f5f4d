"""Request pipeline: locale, identity, CSRF, and one place that maps errors to answers."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from app import auth, court_systems, i18n
from app.db import reader_key, sessionmaker_key
from app.errors import (
    DomainError,
    NotAuthenticated,
    PermissionDenied,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from app.health import database_unavailable
from app.i18n import N_
from app.rendering import render
from app.security import check_csrf
from app.settings import settings_key
from app.uploads import body_limit_middleware

log = logging.getLogger("app.http")
LANG_COOKIE = "lang"
request_id_rkey = web.RequestKey("request_id", str)
UNAVAILABLE = N_("The service is temporarily unavailable. Please try again in a moment.")


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def error_body(error: DomainError) -> dict[str, object]:
    body: dict[str, object] = {
        "error": error.code,
        "message": i18n.translate(error.message, i18n.get_locale(), **error.params),
        "messages": {
            loc: i18n.translate(error.message, loc, **error.params) for loc in i18n.LOCALES
        },
    }
    if isinstance(error, ValidationFailed):
        body["fields"] = {
            name: {loc: i18n.translate(msg, loc) for loc in i18n.LOCALES}
            for name, msg in error.fields.items()
        }
    return body


@web.middleware
async def locale_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    chosen = request.cookies.get(LANG_COOKIE) or request.app[settings_key].default_locale
    i18n.set_locale(chosen)
    return await handler(request)


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    principal = await _principal(request)
    request[auth.principal_rkey] = principal or auth.ANONYMOUS
    if principal is not None and principal.kind == "court_system":
        resource = request.match_info.route.resource
        if resource is None or resource.canonical not in request.app[court_systems.routes_key]:
            raise PermissionDenied(N_("A court system's token reaches only the court API."))
    await check_csrf(request)
    return await handler(request)


async def _principal(request: web.Request) -> auth.Principal | None:
    """Who sent the request (its own function: the database session it opens must not stay
    referenced by the middleware's frame, which lives as long as a WebSocket does)."""
    authorization = request.headers.get("Authorization", "")
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if not (authorization.startswith("Bearer ") or cookie):
        return None
    resource = request.match_info.route.resource
    if resource is not None and resource.canonical in request.app[auth.own_session_key]:
        return None  # the handler reads the cookie itself
    if authorization.startswith("Bearer "):
        # One read (a court token's last use: one conditional UPDATE): no transaction needed.
        async with request.app[reader_key]() as db:
            bearer = authorization[7:].strip()
            principal = await auth.principal_from_api_token(db, bearer)
            if principal is None:
                principal = await court_systems.principal_from_court_token(db, bearer)
            if principal is None:
                raise NotAuthenticated("The API token is missing, wrong or revoked.")
            return principal
    async with request.app[sessionmaker_key]() as db:
        return await auth.principal_from_session(db, cookie or "")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[request_id_rkey] = request.headers.get("X-Request-Id") or secrets.token_hex(6)
    try:
        return await handler(request)
    except DomainError as error:
        return _domain_error_response(request, error)
    except web.HTTPException as exc:
        if exc.status in (404, 405) or (exc.status == 413):
            message = {
                404: N_("The page you asked for does not exist."),
                405: N_("This address does not accept that kind of request."),
                413: N_("The upload is too large."),
            }[exc.status]
            err = DomainError(message)
            err.status, err.code = exc.status, exc.reason.lower().replace(" ", "_")
            return _domain_error_response(request, err)
        raise
    except Exception as exc:
        if database_unavailable(exc):
            log.warning(
                "database unavailable in %s %s [%s]: %s: %s",
                request.method,
                request.path,
                request[request_id_rkey],
                type(exc).__name__,
                str(exc).partition("\n")[0],  # later lines hold the SQL and its parameters
            )
            return _domain_error_response(request, ServiceUnavailable(UNAVAILABLE))
        log.exception(
            "unhandled error in %s %s [%s]", request.method, request.path, request[request_id_rkey]
        )
        err = DomainError("Something went wrong on our side. Please try again later.")
        err.status, err.code = 500, "server_error"
        return _domain_error_response(request, err)


def _domain_error_response(request: web.Request, error: DomainError) -> web.StreamResponse:
    response: web.StreamResponse
    if wants_json(request):
        response = web.json_response(error_body(error), status=error.status)
    elif isinstance(error, NotAuthenticated) and request.method == "GET":
        raise web.HTTPSeeOther(f"/login?next={request.path_qs}")
    else:
        response = render(
            request,
            "app/error.html",
            {"error": error_body(error), "status": error.status},
            status=error.status,
        )
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


# Scripts and styles only: pages carry the CSRF token, and compressing secrets beside text a
# visitor can influence is what BREACH exploits.
COMPRESSIBLE = (".js", ".css", ".svg", ".json")


@web.middleware
async def static_compression(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Static scripts and styles go out compressed (aiohttp's static route sends files as
    they are) when the browser accepts it."""
    response = await handler(request)
    if (
        isinstance(response, web.FileResponse)
        and request.path.startswith("/static/")
        and request.path.endswith(COMPRESSIBLE)
    ):
        response.enable_compression()
    return response


MIDDLEWARES = (
    body_limit_middleware,
    error_middleware,
    locale_middleware,
    identity_middleware,
    static_compression,
)
