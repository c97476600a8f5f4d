"""The admin's pages: organisation tree, staff, roles and deadlines (app/admin.py does the work)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import admin, admin_api, court_system_api, court_system_views, deadlines
from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.factory_keys import executor_key
from app.forms import form_dict, parse_id
from app.models import COMPLEXITIES, ORG_KINDS, ROLES, TIERS, Organization, StaffUser
from app.policy import role_actions
from app.rendering import render
from app.revocation import announce_revoked
from app.settings import settings_key

NO_STORE = {"Cache-Control": "private, no-store"}
Write = Callable[[AsyncSession, dict[str, str]], Awaitable[object]]


async def _index_context(db: AsyncSession, principal: Principal) -> dict[str, Any]:
    root = admin.require_admin(principal)
    tree = await admin.org_tree(db, root)
    return {
        "tree": tree,
        "orgs": admin.flatten(tree),
        "staff": await admin.staff_of(db, root),
        "tiers": TIERS,
        "kinds": ORG_KINDS,
        "roles": ROLES,
        "courts": await admin.courts(db),
    }


async def _page(
    request: web.Request, form: str | None, values: dict[str, str], errors: dict[str, str]
) -> web.Response:
    async with request.app[sessionmaker_key]() as db:
        context = await _index_context(db, current(request))
    context.update(form=form, values=values, errors=errors)
    return render(request, "app/admin.html", context, status=422 if errors else 200)


async def index(request: web.Request) -> web.StreamResponse:
    return await _page(request, None, {}, {})


def _with_id(data: dict[str, str], name: str) -> dict[str, object]:
    return {**data, name: parse_id(data.get(name))}


def _path_id(request: web.Request, name: str, message: str) -> int:
    found = parse_id(request.match_info[name])
    if found is None:
        raise NotFound(message)
    return found


async def _write(request: web.Request, form: str, write: Write) -> web.StreamResponse:
    """Runs `write` in one transaction; its validation errors show the admin page again."""
    admin.require_admin(current(request))
    data = form_dict(await request.post())
    try:
        async with transaction(request.app) as db:
            await write(db, data)
    except ValidationFailed as error:
        return await _page(request, form, data, error.fields)
    raise web.HTTPSeeOther("/admin")


async def create_org(request: web.Request) -> web.StreamResponse:
    async def write(db: AsyncSession, data: dict[str, str]) -> object:
        wanted = admin.check_org(_with_id(data, "parent_id"), new=True)
        return await admin.do_create_org(db, current(request), wanted)

    return await _write(request, "org", write)


async def rename_org(request: web.Request) -> web.StreamResponse:
    org_id = _path_id(request, "org_id", admin.NO_ORG)

    async def write(db: AsyncSession, data: dict[str, str]) -> object:
        wanted = admin.check_org(data, new=False)
        return await admin.do_rename_org(db, current(request), org_id, wanted)

    return await _write(request, f"rename-{org_id}", write)


async def set_court(request: web.Request) -> web.StreamResponse:
    org_id = _path_id(request, "org_id", admin.NO_ORG)

    async def write(db: AsyncSession, data: dict[str, str]) -> object:
        court_id = parse_id(data.get("court_org_id")) if data.get("court_org_id") else None
        if data.get("court_org_id") and court_id is None:
            raise ValidationFailed({"court_org_id": admin.BAD_COURT})
        return await admin.do_set_court(db, current(request), org_id, court_id)

    return await _write(request, f"court-{org_id}", write)


async def change_role(request: web.Request) -> web.StreamResponse:
    staff_id = _path_id(request, "staff_id", admin.NO_STAFF)

    async def write(db: AsyncSession, data: dict[str, str]) -> object:
        return await admin.do_change_role(db, current(request), staff_id, data.get("role", ""))

    return await _write(request, f"role-{staff_id}", write)


async def deactivate(request: web.Request) -> web.StreamResponse:
    staff_id = _path_id(request, "staff_id", admin.NO_STAFF)
    principal = current(request)
    admin.require_admin(principal)
    async with transaction(request.app) as db:
        revoked = await admin.do_deactivate(db, principal, staff_id)
    await announce_revoked(request.app, revoked)  # open room sockets close too
    raise web.HTTPSeeOther("/admin")


def _password_page(request: web.Request, user: StaffUser, password: str) -> web.Response:
    response = render(request, "app/admin_password.html", {"user": user, "password": password})
    response.headers.update(NO_STORE)
    return response


async def create_staff(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    admin.require_admin(principal)
    data = form_dict(await request.post())
    executor = request.app[executor_key]
    try:
        async with transaction(request.app) as db:
            wanted = admin.check_staff(_with_id(data, "org_id"))
            user, password = await admin.do_create_staff(db, executor, principal, wanted)
    except ValidationFailed as error:
        return await _page(request, "staff", data, error.fields)
    return _password_page(request, user, password)


async def reset_password(request: web.Request) -> web.StreamResponse:
    staff_id = _path_id(request, "staff_id", admin.NO_STAFF)
    principal = current(request)
    admin.require_admin(principal)
    async with transaction(request.app) as db:
        user, password, revoked = await admin.do_reset_password(
            db, request.app[executor_key], principal, staff_id
        )
    await announce_revoked(request.app, revoked)
    return _password_page(request, user, password)


async def roles(request: web.Request) -> web.StreamResponse:
    admin.require_admin(current(request))
    return render(request, "app/admin_roles.html", {"roles": ROLES, "actions": role_actions()})


async def _deadlines_page(
    request: web.Request, values: dict[str, Any] | None, errors: dict[str, str]
) -> web.Response:
    settings = request.app[settings_key]
    root = admin.require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        stored = await deadlines.effective(db, settings)
        org = await db.get(Organization, root)
    context = {
        "names": deadlines.NAMES,
        "complexities": COMPLEXITIES,
        "values": values or stored,
        "defaults": deadlines.defaults(settings),
        "errors": errors,
        "editable": org is not None and org.parent_id is None,
    }
    return render(request, "app/admin_deadlines.html", context, status=422 if errors else 200)


async def deadlines_form(request: web.Request) -> web.StreamResponse:
    return await _deadlines_page(request, None, {})


async def save_deadlines(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    data = form_dict(await request.post())
    try:
        async with transaction(request.app) as db:
            org = await db.get(Organization, root)
            assert org is not None
            admin.require_top_admin(principal, org)
            await deadlines.do_save(db, deadlines.check_deadlines(data), principal.key)
    except ValidationFailed as error:
        return await _deadlines_page(request, data, error.fields)
    raise web.HTTPSeeOther("/admin/deadlines")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin", index, name="admin")
    app.router.add_post("/admin/organizations", create_org)
    app.router.add_post(r"/admin/organizations/{org_id:\d{1,9}}", rename_org)
    app.router.add_post(r"/admin/organizations/{org_id:\d{1,9}}/court", set_court)
    app.router.add_post("/admin/staff", create_staff)
    app.router.add_post(r"/admin/staff/{staff_id:\d{1,9}}/role", change_role)
    app.router.add_post(r"/admin/staff/{staff_id:\d{1,9}}/deactivate", deactivate)
    app.router.add_post(r"/admin/staff/{staff_id:\d{1,9}}/password", reset_password)
    app.router.add_get("/admin/roles", roles)
    app.router.add_get("/admin/deadlines", deadlines_form)
    app.router.add_post("/admin/deadlines", save_deadlines)
    admin_api.setup(app)
    court_system_views.setup(app)
    court_system_api.setup(app)
