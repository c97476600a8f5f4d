"""The admin's JSON API (bearer tokens of admins): organisations, staff, deadlines.

A staff account created through the API gets no password anyone knows: the admin then asks for
a one-time password (`.../password`), which is answered once and never stored as given, so the
idempotency record of the creating POST never holds a password."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import admin, deadlines, idempotency
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound
from app.factory_keys import executor_key
from app.forms import parse_id, read_json
from app.idempotency import HEADER, MAX_KEY_LENGTH
from app.models import ORG_KINDS, ROLES, TIERS, Organization, StaffUser
from app.openapi import ID, document, error_responses, json_body, json_response, path_id
from app.revocation import announce_revoked
from app.settings import settings_key

ADMIN = "/api/v1/admin"
NO_STORE = {"Cache-Control": "private, no-store"}


def org_json(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "short_name": org.short_name,
        "tier": org.tier,
        "kind": org.kind,
        "parent_id": org.parent_id,
    }


def staff_json(user: StaffUser) -> dict[str, Any]:
    return {
        "id": user.id,
        "org_id": user.org_id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "active": user.active,
    }


async def _create(request: web.Request, make: Any) -> web.StreamResponse:
    principal = current(request)
    admin.require_admin(principal)
    body = await read_json(request)
    key = idempotency.key_from(request)

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        return 201, await make(db, body)

    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)


async def create_org(request: web.Request) -> web.StreamResponse:
    async def make(db: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
        org = await admin.do_create_org(db, current(request), admin.check_org(body, new=True))
        return org_json(org)

    return await _create(request, make)


async def create_staff(request: web.Request) -> web.StreamResponse:
    executor = request.app[executor_key]

    async def make(db: AsyncSession, body: dict[str, Any]) -> dict[str, Any]:
        wanted = admin.check_staff(body)
        user, _unseen = await admin.do_create_staff(db, executor, current(request), wanted)
        return staff_json(user)

    return await _create(request, make)


def _staff_id(request: web.Request) -> int:
    found = parse_id(request.match_info["staff_id"])
    if found is None:
        raise NotFound(admin.NO_STAFF)
    return found


async def password(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    admin.require_admin(principal)
    async with transaction(request.app) as db:
        user, new, revoked = await admin.do_reset_password(
            db, request.app[executor_key], principal, _staff_id(request)
        )
    await announce_revoked(request.app, revoked)
    body = {"staff": staff_json(user), "one_time_password": new}
    return web.json_response(body, headers=NO_STORE)


async def deactivate(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    admin.require_admin(principal)
    async with transaction(request.app) as db:
        revoked = await admin.do_deactivate(db, principal, _staff_id(request))
        user = await db.get(StaffUser, _staff_id(request))
        assert user is not None
        await db.refresh(user)
    await announce_revoked(request.app, revoked)
    return web.json_response(staff_json(user))


async def show_deadlines(request: web.Request) -> web.StreamResponse:
    admin.require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        values = await deadlines.effective(db, request.app[settings_key])
    return web.json_response(values)


async def save_deadlines(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    body = await read_json(request)
    async with transaction(request.app) as db:
        org = await db.get(Organization, root)
        assert org is not None
        admin.require_top_admin(principal, org)
        await deadlines.do_save(db, deadlines.check_deadlines(body), principal.key)
    return await show_deadlines(request)


def setup(app: web.Application) -> None:
    staff = r"/staff/{staff_id:\d{1,9}}"
    app.router.add_post(f"{ADMIN}/organizations", create_org)
    app.router.add_post(f"{ADMIN}/staff", create_staff)
    app.router.add_post(f"{ADMIN}{staff}/password", password)
    app.router.add_post(f"{ADMIN}{staff}/deactivate", deactivate)
    app.router.add_get(f"{ADMIN}/deadlines", show_deadlines)
    app.router.add_put(f"{ADMIN}/deadlines", save_deadlines)
    describe(app)


# --- OpenAPI ---------------------------------------------------------------------------------

IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes retries safe: the same key with the same body answers as the first.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
}
ORG_IN = {
    "type": "object",
    "required": ["parent_id", "name", "short_name", "tier"],
    "properties": {
        "parent_id": {**ID, "description": "an organisation of the admin's subtree"},
        "name": {"type": "string", "minLength": 1, "maxLength": admin.NAME_MAX},
        "short_name": {"type": "string", "minLength": 1, "maxLength": admin.SHORT_MAX},
        "tier": {"type": "string", "enum": list(TIERS), "description": "not above the parent's"},
        "kind": {"type": "string", "enum": [k for k in ORG_KINDS if k != "court"]},
    },
}
ORG_OUT = {
    "type": "object",
    "required": ["id", "name", "short_name", "tier", "kind", "parent_id"],
    "properties": {
        "id": ID,
        "name": {"type": "string"},
        "short_name": {"type": "string"},
        "tier": {"type": "string", "enum": list(TIERS)},
        "kind": {"type": "string", "enum": list(ORG_KINDS)},
        "parent_id": {"type": ["integer", "null"]},
    },
}
STAFF_IN = {
    "type": "object",
    "required": ["org_id", "username", "display_name", "role"],
    "properties": {
        "org_id": ID,
        "username": {"type": "string", "pattern": admin.USERNAME_PATTERN},
        "display_name": {"type": "string", "minLength": 1, "maxLength": admin.DISPLAY_MAX},
        "role": {"type": "string", "enum": list(ROLES)},
        "phone": {"type": "string", "description": "11-digit mainland mobile number"},
    },
}
STAFF_OUT = {
    "type": "object",
    "required": ["id", "org_id", "username", "display_name", "role", "active"],
    "properties": {
        "id": ID,
        "org_id": ID,
        "username": {"type": "string"},
        "display_name": {"type": "string"},
        "role": {"type": "string", "enum": list(ROLES)},
        "active": {"type": "boolean"},
    },
}
DEADLINES = {
    "type": "object",
    "required": list(deadlines.NAMES),
    "properties": {
        # exclusiveMaximum: tests/test_openapi_document.py reads every integer `maximum` as an id.
        name: {"type": "integer", "minimum": low, "exclusiveMaximum": high + 1}
        for name, (low, high) in deadlines.LIMITS.items()
    },
}


def _op(app: web.Application, path: str, method: str, **operation: Any) -> None:
    document(app, f"{ADMIN}{path}", method, operation)


def describe(app: web.Application) -> None:
    creates = error_responses(400, 403, 404, 413, 422)
    staff_id = path_id("staff_id")
    _op(
        app,
        "/organizations",
        "post",
        operationId="adminCreateOrganization",
        summary="Create a child organisation inside the admin's subtree.",
        parameters=[IDEMPOTENCY_KEY],
        requestBody=json_body(ORG_IN),
        responses={"201": json_response(ORG_OUT, "created"), **creates},
    )
    _op(
        app,
        "/staff",
        "post",
        operationId="adminCreateStaff",
        summary="Create a staff account (then ask for its one-time password).",
        parameters=[IDEMPOTENCY_KEY],
        requestBody=json_body(STAFF_IN),
        responses={"201": json_response(STAFF_OUT, "created"), **creates},
    )
    _op(
        app,
        "/staff/{staff_id}/password",
        "post",
        operationId="adminResetPassword",
        summary="A new one-time password, answered once; the account's sign-ins end.",
        parameters=[staff_id],
        responses={
            "200": json_response(
                {
                    "type": "object",
                    "required": ["staff", "one_time_password"],
                    "properties": {"staff": STAFF_OUT, "one_time_password": {"type": "string"}},
                },
                "the password",
            ),
            **error_responses(403, 404),
        },
    )
    _op(
        app,
        "/staff/{staff_id}/deactivate",
        "post",
        operationId="adminDeactivateStaff",
        summary="Deactivate an account: its sessions and API tokens end at once.",
        parameters=[staff_id],
        responses={
            "200": json_response(STAFF_OUT, "deactivated"),
            **error_responses(403, 404, 409),
        },
    )
    _op(
        app,
        "/deadlines",
        "get",
        operationId="adminGetDeadlines",
        summary="The deadlines in force (stored values over the environment's).",
        responses={"200": json_response(DEADLINES, "the deadlines"), **error_responses(403)},
    )
    _op(
        app,
        "/deadlines",
        "put",
        operationId="adminSetDeadlines",
        summary="Set every deadline (admins of a top-level organisation).",
        requestBody=json_body(DEADLINES),
        responses={
            "200": json_response(DEADLINES, "saved"),
            **error_responses(400, 403, 413, 422),
        },
    )
