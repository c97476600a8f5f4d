"""The admin's JSON API for court systems: system tokens, webhooks and failed deliveries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app import admin, court_systems, dead_letters
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound
from app.forms import parse_id, read_json
from app.models import CourtToken
from app.openapi import ID, INSTANT, document, error_responses, json_body, json_response, path_id
from app.settings import settings_key

ADMIN = "/api/v1/admin"
NO_STORE = {"Cache-Control": "private, no-store"}


def _instant(value: Any) -> str | None:
    return value.isoformat() if value else None


def token_json(row: CourtToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "org_id": row.org_id,
        "name": row.name,
        "created_at": row.created_at.isoformat(),
        "last_used_at": _instant(row.last_used_at),
        "revoked_at": _instant(row.revoked_at),
    }


def letter_json(letter: dead_letters.DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "court": letter.court,
        "event": letter.event,
        "idempotency_key": letter.key,
        "attempts": letter.attempts,
        "last_error": letter.last_error,
        "failed_at": letter.failed_at.isoformat(),
    }


def _path_id(request: web.Request, name: str, message: str) -> int:
    found = parse_id(request.match_info[name])
    if found is None:
        raise NotFound(message)
    return found


async def list_tokens(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        rows = await court_systems.tokens_of(db, await court_systems.courts_in_scope(db, root))
    return web.json_response({"tokens": [token_json(row) for row in rows]})


async def issue_token(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    body = await read_json(request)
    name = court_systems.check_name(body)
    org_id = body.get("org_id")
    async with transaction(request.app) as db:
        row, token = await court_systems.issue_token(
            db, principal, root, org_id if type(org_id) is int else None, name
        )
    return web.json_response({**token_json(row), "token": token}, status=201, headers=NO_STORE)


async def revoke_token(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    token_id = _path_id(request, "token_id", court_systems.NO_TOKEN)
    async with transaction(request.app) as db:
        row = await court_systems.revoke_token(db, root, token_id)
    return web.json_response(token_json(row))


async def set_webhook(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    org_id = _path_id(request, "org_id", court_systems.NO_COURT)
    settings = request.app[settings_key]
    body = await read_json(request)
    url = court_systems.check_url(body, allow_http=settings.mode != "production")
    async with transaction(request.app) as db:
        hook, secret = await court_systems.set_webhook(
            db, principal, root, org_id, url, settings.id_hash_key
        )
    answer = {"org_id": hook.org_id, "url": hook.url, "secret": secret}
    return web.json_response(answer, headers=NO_STORE)


async def clear_webhook(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    org_id = _path_id(request, "org_id", court_systems.NO_COURT)
    async with transaction(request.app) as db:
        await court_systems.clear_webhook(db, root, org_id)
    return web.json_response({"org_id": org_id, "url": None})


async def list_dead_letters(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        letters = await dead_letters.dead_letters(db, root)
    return web.json_response({"dead_letters": [letter_json(d) for d in letters]})


async def requeue(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    job_id = _path_id(request, "job_id", dead_letters.NO_LETTER)
    async with transaction(request.app) as db:
        await dead_letters.requeue(db, root, job_id)
    return web.json_response({"id": job_id, "status": "pending"})


TOKENS, HOOK = "/court-tokens", "/court-webhooks/{org_id}"
LETTERS = "/dead-letters"


def setup(app: web.Application) -> None:
    app.router.add_get(f"{ADMIN}{TOKENS}", list_tokens)
    app.router.add_post(f"{ADMIN}{TOKENS}", issue_token)
    app.router.add_post(ADMIN + TOKENS + r"/{token_id:\d{1,9}}/revoke", revoke_token)
    app.router.add_put(ADMIN + r"/court-webhooks/{org_id:\d{1,9}}", set_webhook)
    app.router.add_delete(ADMIN + r"/court-webhooks/{org_id:\d{1,9}}", clear_webhook)
    app.router.add_get(f"{ADMIN}{LETTERS}", list_dead_letters)
    app.router.add_post(ADMIN + LETTERS + r"/{job_id:\d{1,9}}/requeue", requeue)
    describe(app)


# --- OpenAPI ---------------------------------------------------------------------------------

_MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
_TOKEN_FIELDS: dict[str, Any] = {
    "id": ID,
    "org_id": ID,
    "name": {"type": "string"},
    "created_at": INSTANT,
    "last_used_at": _MAYBE_INSTANT,
    "revoked_at": _MAYBE_INSTANT,
}
TOKEN_OUT = {"type": "object", "required": list(_TOKEN_FIELDS), "properties": _TOKEN_FIELDS}
ISSUED = {
    "type": "object",
    "required": [*_TOKEN_FIELDS, "token"],
    "properties": {**_TOKEN_FIELDS, "token": {"type": "string", "description": "shown once"}},
}
TOKEN_IN = {
    "type": "object",
    "required": ["org_id", "name"],
    "properties": {
        "org_id": {**ID, "description": "a court organisation of the admin's subtree"},
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": court_systems.NAME_MAX,
            "description": "printable; recorded as the actor of the system's steps",
        },
    },
}
HOOK_IN = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {
            "type": "string",
            "maxLength": court_systems.URL_MAX,
            "description": "https:// (http:// outside production), no user name or password",
        }
    },
}
LETTER = {
    "type": "object",
    "required": ["id", "court", "event", "idempotency_key", "attempts", "last_error", "failed_at"],
    "properties": {
        "id": ID,
        "court": {"type": "string"},
        "event": {"type": "string"},
        "idempotency_key": {"type": "string"},
        "attempts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
        "failed_at": INSTANT,
    },
}


def _op(app: web.Application, path: str, method: str, **operation: Any) -> None:
    document(app, f"{ADMIN}{path}", method, operation)


def describe(app: web.Application) -> None:
    org_id = path_id("org_id")
    _op(
        app,
        TOKENS,
        "get",
        operationId="adminListCourtTokens",
        summary="The system tokens of the courts in the admin's subtree (never the tokens).",
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["tokens"],
                    "properties": {"tokens": {"type": "array", "items": TOKEN_OUT}},
                },
                "the tokens",
            ),
            **error_responses(403),
        },
    )
    _op(
        app,
        TOKENS,
        "post",
        operationId="adminIssueCourtToken",
        summary="Issue a court system token, answered once: it acts as that court on the court "
        "API (list, fetch, review, decide, extend) and reaches nothing else.",
        requestBody=json_body(TOKEN_IN),
        responses={
            "201": json_response(ISSUED, "issued; the token is shown only now"),
            **error_responses(400, 403, 404, 413, 422),
        },
    )
    _op(
        app,
        TOKENS + "/{token_id}/revoke",
        "post",
        operationId="adminRevokeCourtToken",
        summary="Revoke a court system token at once (its next request gets 401).",
        parameters=[path_id("token_id")],
        responses={"200": json_response(TOKEN_OUT, "revoked"), **error_responses(403, 404, 409)},
    )
    _op(
        app,
        HOOK,
        "put",
        operationId="adminSetCourtWebhook",
        summary="Set the court's webhook address with a new HMAC secret, answered once.",
        parameters=[org_id],
        requestBody=json_body(HOOK_IN),
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["org_id", "url", "secret"],
                    "properties": {
                        "org_id": ID,
                        "url": {"type": "string"},
                        "secret": {"type": "string"},
                    },
                },
                "set; the secret is shown only now",
            ),
            **error_responses(400, 403, 404, 413, 422),
        },
    )
    _op(
        app,
        HOOK,
        "delete",
        operationId="adminClearCourtWebhook",
        summary="Stop pushing to the court (deliveries still queued become dead letters).",
        parameters=[org_id],
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["org_id", "url"],
                    "properties": {"org_id": ID, "url": {"type": "null"}},
                },
                "removed",
            ),
            **error_responses(403, 404),
        },
    )
    _op(
        app,
        LETTERS,
        "get",
        operationId="adminListDeadLetters",
        summary="Webhook deliveries that failed for good, newest first, of the subtree's courts.",
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["dead_letters"],
                    "properties": {"dead_letters": {"type": "array", "items": LETTER}},
                },
                "the failed deliveries",
            ),
            **error_responses(403),
        },
    )
    _op(
        app,
        LETTERS + "/{job_id}/requeue",
        "post",
        operationId="adminRequeueDeadLetter",
        summary="Deliver again with a fresh set of attempts; once (a second call is 409).",
        parameters=[path_id("job_id")],
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {"id": ID, "status": {"type": "string", "enum": ["pending"]}},
                },
                "re-queued",
            ),
            **error_responses(403, 404, 409),
        },
    )
