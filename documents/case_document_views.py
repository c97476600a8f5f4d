"""Pages for a case's documents: the list on the case page, the minutes form, the archive on
demand, and the download of a sealed document (authorised against its case)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import ValidationFailed
from app.forms import form_dict
from app.models import Case
from app.panels import Panel
from app.policy import Action, can, load_case, require
from app.rendering import render
from app.storage import storage_key
from documents import archive, case_documents


def _case_id(request: web.Request) -> int:
    return int(request.match_info["case_id"])


async def panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    documents = await case_documents.documents_of(db, principal, case)
    conducts = principal.kind == "staff" and await can(db, principal, Action.CONDUCT, case)
    if not documents and not conducts:
        return None
    return Panel(
        "documents/case_documents_panel.html",
        {
            "documents": documents,
            "may_record_minutes": conducts and case.status != "closed",
            "may_archive": conducts and case.outcome is not None,
        },
    )


async def _minutes_page(
    request: web.Request, case_id: int, form: dict[str, str], errors: dict[str, str]
) -> web.Response:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        await require(db, principal, Action.CONDUCT, case)
    context = {"case": case, "form": form, "errors": errors}
    return render(request, "documents/minutes.html", context, status=422 if errors else 200)


async def minutes_form(request: web.Request) -> web.StreamResponse:
    return await _minutes_page(request, _case_id(request), {}, {})


async def record_minutes(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    form = form_dict(await request.post())
    case_id = _case_id(request)
    try:
        minutes = case_documents.check_minutes(form)
    except ValidationFailed as failed:
        return await _minutes_page(request, case_id, form, failed.fields)
    async with transaction(request.app) as db:
        case = await load_case(db, principal, case_id)
        await case_documents.do_record_minutes(db, principal, case, minutes)
    raise web.HTTPSeeOther(f"/cases/{case_id}#documents")


async def request_archive(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    case_id = _case_id(request)
    async with transaction(request.app) as db:
        case = await load_case(db, principal, case_id)
        await archive.do_archive(db, principal, case)
    raise web.HTTPSeeOther(f"/cases/{case_id}#documents")


async def download(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        document = await case_documents.load_document(
            db, principal, int(request.match_info["document_id"])
        )
    assert document.storage_key is not None  # load_document refuses unsealed ones
    pdf = await request.app[storage_key].get(document.storage_key)
    filename = f"{document.kind}-{document.case_id}-v{document.version}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
