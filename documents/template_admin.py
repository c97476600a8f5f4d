"""The admin's pages for document templates (documents/template_store.py does the work).

Registered by documents (app/ imports no feature); the admin area links here."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from app.admin import require_admin
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import ValidationFailed
from app.forms import form_dict
from app.labels import LABELS
from app.rendering import render
from documents import template_store
from documents.models import DocumentTemplate
from documents.template_defaults import KIND_LABELS, KINDS, PLACEHOLDERS


async def index(request: web.Request) -> web.StreamResponse:
    require_admin(current(request))
    async with request.app[sessionmaker_key]() as db:
        rows = await db.execute(
            select(
                DocumentTemplate.kind,
                DocumentTemplate.dispute_type,
                func.max(DocumentTemplate.version),
            ).group_by(DocumentTemplate.kind, DocumentTemplate.dispute_type)
        )
        versions = {(kind, dispute): version for kind, dispute, version in rows}
    context = {
        "kinds": KINDS,
        "kind_labels": KIND_LABELS,
        "versions": versions,
        "disputes": list(LABELS["dispute"]),
    }
    return render(request, "documents/admin_templates.html", context)


def _selection(request: web.Request, dispute_type: str) -> tuple[str, str]:
    kind = template_store.check_kind(request.match_info["kind"])
    return kind, template_store.check_dispute_type(dispute_type)


async def _edit_page(
    request: web.Request,
    kind: str,
    dispute_type: str,
    values: dict[str, str] | None,
    errors: dict[str, str],
) -> web.Response:
    async with request.app[sessionmaker_key]() as db:
        chosen = await template_store.current(db, kind, dispute_type)
        history = await template_store.history(db, kind, dispute_type)
    context: dict[str, Any] = {
        "kind": kind,
        "kind_label": KIND_LABELS[kind],
        "dispute_type": dispute_type,
        "placeholders": PLACEHOLDERS[kind],
        "chosen": chosen,
        "values": values or {"title": chosen.wording.title, "body": chosen.wording.body},
        "history": history,
        "errors": errors,
        "saved": request.query.get("saved") == "1",
    }
    return render(request, "documents/admin_template.html", context, status=422 if errors else 200)


async def edit(request: web.Request) -> web.StreamResponse:
    require_admin(current(request))
    kind, dispute_type = _selection(request, request.query.get("dispute_type", ""))
    return await _edit_page(request, kind, dispute_type, None, {})


async def save(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    require_admin(principal)
    form = form_dict(await request.post())
    kind, dispute_type = _selection(request, form.get("dispute_type", ""))
    try:
        wording = template_store.check_template(kind, form.get("title", ""), form.get("body", ""))
    except ValidationFailed as failed:
        return await _edit_page(request, kind, dispute_type, form, failed.fields)
    async with transaction(request.app) as db:
        await template_store.do_save(db, principal, kind, dispute_type, wording)
    query = f"dispute_type={dispute_type}&saved=1" if dispute_type else "saved=1"
    raise web.HTTPSeeOther(f"/admin/templates/{kind}?{query}")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/templates", index)
    app.router.add_get(r"/admin/templates/{kind:[a-z_]{1,24}}", edit)
    app.router.add_post(r"/admin/templates/{kind:[a-z_]{1,24}}", save)
