"""Agreement pages (draft, read and sign, download), the verification page, the court inbox."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.case_status import announce_case_status
from app.db import sessionmaker_key, transaction
from app.errors import NotAuthenticated, NotFound, UserError, ValidationFailed
from app.forms import clean, form_dict, read_json
from app.i18n import N_
from app.models import Case
from app.panels import Panel
from app.policy import load_case
from app.rendering import render
from app.uploads import NOT_A_PDF, PDF_MAGIC, uploaded_file
from documents import court, services
from documents.models import Agreement
from documents.sealed import check_seal, sealed_pdf


def _int(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


async def _agreement_and_case(
    db: AsyncSession, principal: Principal, agreement_id: int
) -> tuple[Agreement, Case]:
    agreement = await db.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(N_("This agreement does not exist."))
    return agreement, await load_case(db, principal, agreement.case_id)


async def panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    agreement = await services.current_agreement(db, case.id)
    is_mediator = principal.kind == "staff" and principal.staff_id == case.mediator_id
    if agreement is None and not (is_mediator and case.status == "scheduled"):
        return None
    signatures = await services.signatures_of(db, agreement.id) if agreement else {}
    signers = (
        [
            {"name": services.signer_name(agreement, key), "signed": key in signatures}
            for key in services.signer_keys(agreement)
        ]
        if agreement
        else []
    )
    filing = await court.filing_of_case(db, case.id)
    return Panel(
        "documents/panel.html",
        {
            "agreement": agreement,
            "signers": signers,
            "is_mediator": is_mediator,
            "may_sign": agreement is not None
            and agreement.status == "signing"
            and principal.key in services.signer_keys(agreement)
            and principal.key not in signatures,
            "filing": filing,
            "courts": await court.courts(db) if is_mediator else [],
            "warning": court.filing_warning(case),
        },
    )


async def draft_form(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, _int(request, "case_id"))
        services.require_mediator(principal, case)
        agreement = await services.current_agreement(db, case.id)
    return render(
        request, "documents/draft.html", {"case": case, "form": _form_from(agreement), "errors": {}}
    )


def _form_from(agreement: Agreement | None) -> dict[str, str]:
    if agreement is None:
        return {"facts": "", "terms": "", "performance": "", "performance_deadline": ""}
    c = agreement.content
    return {
        "facts": c["facts"],
        "terms": "\n".join(c["terms"]),
        "performance": c["performance"],
        "performance_deadline": c["performance_deadline"],
    }


async def draft(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    form = form_dict(await request.post())
    case_id = _int(request, "case_id")
    try:
        async with transaction(request.app) as db:
            case = await load_case(db, principal, case_id)
            await services.do_draft(db, principal, case, services.check_draft(form))
    except ValidationFailed as failed:
        async with request.app[sessionmaker_key]() as db:
            case = await load_case(db, principal, case_id)
        return render(
            request,
            "documents/draft.html",
            {"case": case, "form": form, "errors": failed.fields},
            status=422,
        )
    raise web.HTTPSeeOther(f"/cases/{case_id}#agreement")


async def sign_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        agreement, case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        signatures = await services.signatures_of(db, agreement.id)
    return render(
        request,
        "documents/sign.html",
        {
            "case": case,
            "agreement": agreement,
            "content": agreement.content,
            "may_sign": agreement.status == "signing"
            and principal.key in services.signer_keys(agreement)
            and principal.key not in signatures,
        },
    )


async def sign(request: web.Request) -> web.StreamResponse:
    """JSON: {version_hash, image: data:image/png;base64,...} — binds to the version shown."""
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated(N_("Please log in or open your invitation link again."))
    body = await read_json(request)
    if not isinstance(body.get("version_hash"), str):
        raise UserError(N_("The request could not be read."))
    png = services.decode_signature_image(body.get("image"))
    evidence = {
        "ip": request.remote,
        "user_agent": request.headers.get("User-Agent", "")[:300],
        "session_id": principal.session_id,
    }
    async with transaction(request.app) as db:
        agreement, _case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        await services.do_sign(db, principal, agreement, body["version_hash"], png, evidence)
        status = agreement.status
    return web.json_response({"status": status}, status=201)


async def download(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        agreement, case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
    row = await sealed_pdf(request.app, agreement.id)
    filename = f"mediation-agreement-{case.id}-v{agreement.version}.pdf"
    return web.Response(
        body=row.pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


async def verify_page(request: web.Request) -> web.StreamResponse:
    """Public: what the QR code on the PDF opens. Shows no personal data."""
    version_hash = request.match_info["version_hash"]
    async with request.app[sessionmaker_key]() as db:
        agreement = await db.scalar(select(Agreement).where(Agreement.version_hash == version_hash))
        case = await db.get(Case, agreement.case_id) if agreement else None
    return render(
        request, "documents/verify.html", {"agreement": agreement, "case": case, "check": None}
    )


async def verify_upload(request: web.Request) -> web.StreamResponse:
    context: dict[str, object] = {"agreement": None, "case": None, "check": None}
    try:
        upload = await uploaded_file(
            request,
            "pdf",
            magic=PDF_MAGIC,
            missing=N_("Please choose a PDF file."),
            wrong_type=NOT_A_PDF,
        )
    except UserError as problem:
        return render(request, "documents/verify.html", {**context, "problem": problem}, status=400)
    context["check"] = await check_seal(request.app, upload.data)
    return render(request, "documents/verify.html", context)


async def file_for_confirmation(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    form = await request.post()
    court_id = str(form.get("court_org_id", ""))
    if not court_id.isdigit():
        raise UserError(N_("Please choose a court."))
    async with transaction(request.app) as db:
        case = await load_case(db, principal, _int(request, "case_id"))
        agreement = await services.current_agreement(db, case.id)
        await court.do_file(db, principal, case, agreement, int(court_id))
    raise web.HTTPSeeOther(f"/cases/{case.id}#agreement")


async def court_inbox(request: web.Request) -> web.StreamResponse:
    async with request.app[sessionmaker_key]() as db:
        items = await court.inbox(db, current(request))
    return render(request, "documents/inbox.html", {"items": items})


async def decide(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    form = await request.post()
    async with transaction(request.app) as db:
        filing = await court.load_filing(db, principal, _int(request, "filing_id"))
        await court.do_decide(
            db, principal, filing, clean(form.get("decision", "")), clean(form.get("note", ""))
        )
    await announce_case_status(request.app, filing.case_id, filing.status)
    raise web.HTTPSeeOther("/court/inbox")
