"""The admin's page for court systems: system tokens, webhooks and failed deliveries."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app import admin, court_systems, dead_letters
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.models import Organization
from app.rendering import render
from app.settings import settings_key

PAGE = "/admin/court-systems"
NO_STORE = {"Cache-Control": "private, no-store"}


async def _page(
    request: web.Request,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    root = admin.require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        courts = await court_systems.courts_in_scope(db, root)
        context = {
            "courts": courts,
            "tokens": await court_systems.tokens_of(db, courts),
            "webhooks": await court_systems.webhooks_of(db, courts),
            "letters": await dead_letters.dead_letters(db, root),
            "form": form,
            "values": values or {},
            "errors": errors or {},
            "shown": shown,
        }
    response = render(request, "app/admin_court_systems.html", context, status=status)
    response.headers.update(NO_STORE)  # a token or secret may be on it, once
    return response


async def index(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def issue_token(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    data = form_dict(await request.post())
    try:
        name = court_systems.check_name(data)
        async with transaction(request.app) as db:
            row, token = await court_systems.issue_token(
                db, principal, root, parse_id(data.get("org_id")), name
            )
            court = await db.get(Organization, row.org_id)
    except ValidationFailed as error:
        return await _page(request, form="token", values=data, errors=error.fields, status=422)
    assert court is not None
    return await _page(request, shown={"kind": "token", "court": court.name, "value": token})


async def revoke_token(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    token_id = parse_id(request.match_info["token_id"])
    if token_id is None:
        raise NotFound(court_systems.NO_TOKEN)
    try:
        async with transaction(request.app) as db:
            await court_systems.revoke_token(db, root, token_id)
    except Conflict:
        pass  # revoked by the first click already: the page shows it revoked
    raise web.HTTPSeeOther(PAGE)


async def set_webhook(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    root = admin.require_admin(principal)
    settings = request.app[settings_key]
    data = form_dict(await request.post())
    try:
        url = court_systems.check_url(data, allow_http=settings.mode != "production")
        async with transaction(request.app) as db:
            hook, secret = await court_systems.set_webhook(
                db, principal, root, parse_id(data.get("org_id")), url, settings.id_hash_key
            )
            court = await db.get(Organization, hook.org_id)
    except ValidationFailed as error:
        return await _page(request, form="webhook", values=data, errors=error.fields, status=422)
    assert court is not None
    return await _page(request, shown={"kind": "secret", "court": court.name, "value": secret})


async def clear_webhook(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    async with transaction(request.app) as db:
        await court_systems.clear_webhook(db, root, parse_id(request.match_info["org_id"]))
    raise web.HTTPSeeOther(PAGE)


async def requeue(request: web.Request) -> web.StreamResponse:
    root = admin.require_admin(current(request))
    job_id = parse_id(request.match_info["job_id"])
    if job_id is None:
        raise NotFound(dead_letters.NO_LETTER)
    try:
        async with transaction(request.app) as db:
            await dead_letters.requeue(db, root, job_id)
    except Conflict:
        pass  # a double click: the first one re-queued it
    raise web.HTTPSeeOther(PAGE)


def setup(app: web.Application) -> None:
    app.router.add_get(PAGE, index)
    app.router.add_post(f"{PAGE}/tokens", issue_token)
    app.router.add_post(PAGE + r"/tokens/{token_id:\d{1,9}}/revoke", revoke_token)
    app.router.add_post(f"{PAGE}/webhooks", set_webhook)
    app.router.add_post(PAGE + r"/webhooks/{org_id:\d{1,9}}/delete", clear_webhook)
    app.router.add_post(PAGE + r"/dead-letters/{job_id:\d{1,9}}/requeue", requeue)
