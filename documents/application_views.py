"""The joint application's pages: the mediator prepares it from the case page; each party reads
and signs it through the signing ceremony (the agreements' form and static/documents/sign.js);
the sealed PDF for the parties, the case's staff and the court it was filed with."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import Conflict, NotAuthenticated, NotFound, UserError
from app.forms import form_dict, parse_id
from app.i18n import N_
from app.identity import mask_phone
from app.models import Case
from app.panels import FormFailure
from app.policy import load_case
from app.rendering import render
from app.settings import settings_key
from app.storage import storage_key
from app.views import render_case_page
from documents import application, ceremony, services, signing_request, venue
from documents.court_clocks import RestDays
from documents.models import JointApplication


async def _application_and_case(
    db: AsyncSession, principal: Principal, application_id: int
) -> tuple[JointApplication, Case]:
    row = await db.get(JointApplication, application_id)
    if row is None:
        raise NotFound(N_("This joint application does not exist."))
    return row, await load_case(db, principal, row.case_id)


def _id(request: web.Request) -> int:
    return int(request.match_info["application_id"])


def _signer(request: web.Request) -> Principal:
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated(N_("Please log in or open your invitation link again."))
    return principal


async def prepare(request: web.Request) -> web.StreamResponse:
    """The mediator prepares the joint application with the competent court; a refusal shows
    the case page again with the message at the form."""
    principal = current(request)
    form = form_dict(await request.post())
    case_id = int(request.match_info["case_id"])
    settings = request.app[settings_key]
    try:
        async with transaction(request.app) as db:
            case = await load_case(db, principal, case_id)
            services.require_mediator(principal, case)
            chosen = await venue.check_venue(
                db,
                case.org_id,
                form.get("court_basis"),
                parse_id(form.get("court_org_id")) if form.get("court_org_id") else None,
                form.get("court_reason"),
            )
            agreement = await services.current_agreement(db, case.id)
            await application.do_prepare(
                db, settings, principal, case, agreement, chosen, rest=RestDays.of(settings)
            )
    except (UserError, Conflict) as error:
        return await render_case_page(request, case_id, FormFailure.of("application", error, form))
    raise web.HTTPSeeOther(f"/cases/{case_id}#application")


async def sign_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        row, case = await _application_and_case(db, principal, _id(request))
        people = await application.signer_rows(db, row)
        phone = await ceremony.phone_on_record(db, principal.key)
    mine = next((s for s in people if s["key"] == principal.key), None)
    may_sign = (
        row.status == "signing" and mine is not None and not mine["signed"] and not mine["declined"]
    )
    context = {
        "case": case,
        "application": row,
        "content": row.content,
        "signers": people,
        "may_sign": may_sign,
        "declined": mine["declined"] if mine else None,
        "signer_name": application.signer_name(row, principal.key),
        "needs_code": True,
        "phone_masked": mask_phone(phone) if phone else "",
        "consent": ceremony.CONSENT,
    }
    return render(request, "documents/application_sign.html", context)


async def request_code(request: web.Request) -> web.StreamResponse:
    """JSON: texts a signing code for this application to the applicant's phone on record."""
    principal = _signer(request)
    async with transaction(request.app) as db:
        row, _case = await _application_and_case(db, principal, _id(request))
        await application.check_may_sign(db, principal, row)
        masked = await ceremony.do_request_code(db, request.app[settings_key], principal, row)
    return web.json_response({"phone_masked": masked}, status=201)


async def sign(request: web.Request) -> web.StreamResponse:
    """As for an agreement: the drawn signature bound to the version shown, after the step-up."""
    principal = _signer(request)
    asked = await signing_request.read_sign(request)
    app = request.app
    async with transaction(app) as db:
        row, _case = await _application_and_case(db, principal, _id(request))
        await application.check_may_sign(db, principal, row, asked.version_hash)
        step_up = await ceremony.check_step_up(db, app[settings_key], principal, row, asked.code)
        evidence = await signing_request.evidence(db, principal, request, step_up)
        await application.do_sign(db, principal, row, asked.version_hash, asked.png, evidence)
        status = row.status
    return web.json_response({"status": status}, status=201)


async def decline(request: web.Request) -> web.StreamResponse:
    """The applicant refuses to sign and says why."""
    principal = _signer(request)
    version_hash, reason = await signing_request.read_decline(request)
    async with transaction(request.app) as db:
        row, _case = await _application_and_case(db, principal, _id(request))
        await application.check_may_sign(db, principal, row, version_hash)
        evidence = await signing_request.evidence(db, principal, request)
        await application.do_decline(db, principal, row, reason, evidence)
    return web.json_response({"status": "declined"}, status=201)


async def download(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        row, case = await _application_and_case(db, principal, _id(request))
    if row.storage_key is None:
        raise Conflict(N_("The PDF is available once every party has signed and it is sealed."))
    pdf = await request.app[storage_key].get(row.storage_key)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="application-{case.id}-{row.id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post(r"/cases/{case_id:\d{1,9}}/application", prepare)
    r.add_get(r"/applications/{application_id:\d{1,9}}", sign_page)
    r.add_post(r"/applications/{application_id:\d{1,9}}/code", request_code)
    r.add_post(r"/applications/{application_id:\d{1,9}}/signatures", sign)
    r.add_post(r"/applications/{application_id:\d{1,9}}/declines", decline)
    r.add_get(r"/applications/{application_id:\d{1,9}}/pdf", download)
