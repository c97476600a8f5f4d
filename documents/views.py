"""Agreement pages (draft, read and sign, download), the verification page, the court inbox."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.case_status import announce_case_status
from app.db import sessionmaker_key, transaction, utcnow
from app.errors import Conflict, NotAuthenticated, NotFound, UserError
from app.factory_keys import executor_key
from app.forms import form_dict, parse_id
from app.i18n import N_
from app.identity import mask_phone
from app.models import Case
from app.panels import FormFailure, Panel
from app.policy import load_case
from app.rendering import render
from app.settings import settings_key
from app.storage import storage_key
from app.uploads import NOT_A_PDF, PDF_MAGIC, uploaded_file
from app.views import render_case_page
from documents import (
    application,
    ceremony,
    court,
    court_review,
    review,
    service,
    services,
    signing_request,
    venue,
)
from documents.court_clocks import RestDays, filing_closes, last_day
from documents.models import Agreement, CourtFiling
from documents.pdf import body_html
from documents.sealed import check_seal, content_doc, on_record, sealed_pdf


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
    declines = await ceremony.declines_of(db, agreement.id) if agreement else {}
    changes = await review.requests_of(db, agreement.id) if agreement and is_mediator else []
    signers = (
        [
            {
                "name": services.signer_name(agreement, key),
                "signed": key in signatures,
                "declined": declines.get(key),
            }
            for key in services.signer_keys(agreement)
        ]
        if agreement
        else []
    )
    filing = await court.filing_of_case(db, case.id)
    may_file = is_mediator and (filing is None or filing.status in court_review.REFILABLE)
    joint = await _application_context(db, principal, case, agreement, may_file)
    return Panel(
        "documents/panel.html",
        {
            "agreement": agreement,
            "signers": signers,
            "is_mediator": is_mediator,
            "may_sign": agreement is not None
            and agreement.status == "signing"
            and principal.key in services.signer_keys(agreement)
            and principal.key not in declines
            and services.is_turn(agreement, principal.key, set(signatures)),
            "changes": [
                (c.clause, services.signer_name(agreement, c.requester), c.text)
                for c in changes
                if agreement
            ],
            "filing": filing,
            "ruling_day": last_day(filing.ruling_due_at)
            if filing and filing.ruling_due_at
            else None,
            "may_file": may_file,
            "is_party": principal.kind == "party",
            "filing_closes": _filing_closes(request, agreement),
            "warning": court.filing_warning(case),
            "not_accepted": court.NOT_ACCEPTED,
            **joint,
        },
    )


async def _application_context(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    agreement: Agreement | None,
    may_file: bool,
) -> dict[str, object]:
    """The joint application on the case page: who signed, whether the party may sign now,
    and for the mediator the courts and the basic court by rule."""
    if agreement is None or agreement.status != "effective":
        return {"application": None}
    row = await application.current_application(db, case.id)
    people = await application.signer_rows(db, row) if row else []
    mine = next((s for s in people if s["key"] == principal.key), None)
    preparing = principal.kind == "staff" and principal.staff_id == case.mediator_id and may_file
    return {
        "application": row if row and row.agreement_id == agreement.id else None,
        "application_signers": people,
        "may_sign_application": row is not None
        and row.status == "signing"
        and mine is not None
        and not mine["signed"]
        and not mine["declined"],
        "basic_court": await venue.basic_court(db, case.org_id) if preparing else None,
        "courts": await venue.courts(db) if preparing else [],
    }


def _filing_closes(
    request: web.Request, agreement: Agreement | None
) -> tuple[datetime, date] | None:
    """When the 30 days for applying end (the instant, and the last day people are told)."""
    if agreement is None or agreement.effective_at is None:
        return None
    closes = filing_closes(agreement.effective_at, RestDays.of(request.app[settings_key]))
    return closes, last_day(closes)


async def sign_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        agreement, case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        signatures = await services.signatures_of(db, agreement.id)
        declined = await ceremony.declined(db, agreement, principal.key)
        phone = await ceremony.phone_on_record(db, principal.key)
    doc = content_doc(agreement.content, agreement.version, agreement.version_hash, "", {})
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(request.app[executor_key], body_html, doc)
    may_sign = (
        agreement.status == "signing"
        and principal.key in services.signer_keys(agreement)
        and declined is None
        and services.is_turn(agreement, principal.key, set(signatures))
    )
    return render(
        request,
        "documents/sign.html",
        {
            "case": case,
            "agreement": agreement,
            "content": agreement.content,
            "body": Markup(body),  # noqa: S704 - our own autoescaping template, as the PDF prints it
            "may_sign": may_sign,
            "declined": declined,
            "signer_name": services.signer_name(agreement, principal.key),
            "needs_code": phone is not None or principal.kind == "party",
            "phone_masked": mask_phone(phone) if phone else "",
            "consent": ceremony.CONSENT,
        },
    )


async def request_code(request: web.Request) -> web.StreamResponse:
    """JSON: texts a signing code to the signer's phone on record."""
    principal = _signer(request)
    async with transaction(request.app) as db:
        agreement, _case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        await services.check_may_sign(db, principal, agreement)
        masked = await ceremony.do_request_code(db, request.app[settings_key], principal, agreement)
    return web.json_response({"phone_masked": masked}, status=201)


def _signer(request: web.Request) -> Principal:
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated(N_("Please log in or open your invitation link again."))
    return principal


async def sign(request: web.Request) -> web.StreamResponse:
    """Binds the drawn signature to the version shown, after the SMS step-up."""
    principal = _signer(request)
    asked = await signing_request.read_sign(request)
    app = request.app
    async with transaction(app) as db:
        agreement, _case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        await services.check_may_sign(db, principal, agreement, asked.version_hash)
        step_up = await ceremony.check_step_up(
            db, app[settings_key], principal, agreement, asked.code
        )
        evidence = await signing_request.evidence(db, principal, request, step_up)
        await services.do_sign(db, principal, agreement, asked.version_hash, asked.png, evidence)
        status = agreement.status
    return web.json_response({"status": status}, status=201)


async def decline(request: web.Request) -> web.StreamResponse:
    """The signer refuses this version and says why."""
    principal = _signer(request)
    version_hash, reason = await signing_request.read_decline(request)
    async with transaction(request.app) as db:
        agreement, _case = await _agreement_and_case(db, principal, _int(request, "agreement_id"))
        await services.check_may_sign(db, principal, agreement, version_hash)
        evidence = await signing_request.evidence(db, principal, request)
        signers = services.signer_keys(agreement)
        await ceremony.do_decline(db, principal, agreement, signers, reason, evidence)
    return web.json_response({"status": "declined"}, status=201)


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
    """Public: what the QR code on the PDF opens. Shows no personal data; a court's
    confirmation (the agreement is enforceable) with the court's case number."""
    version_hash = request.match_info["version_hash"]
    async with request.app[sessionmaker_key]() as db:
        agreement = await db.scalar(select(Agreement).where(Agreement.version_hash == version_hash))
        case = await db.get(Case, agreement.case_id) if agreement else None
        confirmed = (
            await db.scalar(
                select(CourtFiling).where(
                    CourtFiling.agreement_id == agreement.id, CourtFiling.status == "confirmed"
                )
            )
            if agreement
            else None
        )
        court_name = await court.court_name(db, confirmed) if confirmed else None
    context = {
        "agreement": agreement,
        "case": case,
        "check": None,
        "confirmed": confirmed,
        "court_name": court_name,
    }
    return render(request, "documents/verify.html", context)


async def ruling_pdf(request: web.Request) -> web.StreamResponse:
    """The court's sealed ruling, for the parties, the case's staff and the court; a party's
    first download is the electronic service's receipt."""
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        filing = await service.load_ruling(db, principal, _int(request, "filing_id"))
    assert filing.ruling_storage_key is not None
    pdf = await request.app[storage_key].get(filing.ruling_storage_key)
    if principal.kind == "party":
        async with transaction(request.app) as db:
            await service.record_receipt(db, principal, filing)
    filename = f"ruling-{filing.case_id}-{filing.id}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
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
    context["record"] = await on_record(request.app, upload.data)
    return render(request, "documents/verify.html", context)


async def file_for_confirmation(request: web.Request) -> web.StreamResponse:
    """Files the parties' sealed joint application with the court it names; a refusal (not
    every party signed, a subject the court does not accept, the 30 days over) shows the case
    page again with the message at the form."""
    principal = current(request)
    form = form_dict(await request.post())
    case_id = _int(request, "case_id")
    try:
        async with transaction(request.app) as db:
            case = await load_case(db, principal, case_id)
            services.require_mediator(principal, case)
            court_id = parse_id(form["court_org_id"]) if form.get("court_org_id") else None
            court.check_subject(form.get("subject"))
            agreement = await services.current_agreement(db, case.id)
            rest = RestDays.of(request.app[settings_key])
            await court.do_file(db, principal, case, agreement, court_id, rest=rest)
    except (UserError, Conflict) as error:
        return await render_case_page(request, case_id, FormFailure.of("filing", error, form))
    raise web.HTTPSeeOther(f"/cases/{case_id}#agreement")


async def court_inbox(
    request: web.Request, failed: FormFailure | None = None, filing_id: int | None = None
) -> web.StreamResponse:
    page = court.check_page(request.query.get("page"))
    async with request.app[sessionmaker_key]() as db:
        items, more = await court.inbox_page(db, current(request), page)
    context = {
        "items": items,
        "page": page,
        "more": more,
        "now": utcnow(),
        "soon": utcnow() + DUE_SOON,
        "failed": failed,
        "failed_filing": filing_id,
    }
    response = render(request, "documents/inbox.html", context)
    if failed is not None:
        response.set_status(failed.status)
    return response


DUE_SOON = timedelta(days=3)  # a ruling due within three days stands out in the queue
COURT_STEPS = {"review": "court_clerk", "decision": "judge", "extension": "judge"}


async def court_step(request: web.Request) -> web.StreamResponse:
    """The clerk's review, the judge's ruling or extension, from the inbox's forms; a refused
    step shows the inbox again with the message at that filing's form and what was typed."""
    principal = current(request)
    step = request.match_info["step"]
    court_review.require_court(principal, COURT_STEPS[step])
    form = form_dict(await request.post())
    filing_id = _int(request, "filing_id")
    rest = RestDays.of(request.app[settings_key])
    try:
        async with transaction(request.app) as db:
            filing = await court.load_filing(db, principal, filing_id)
            if step == "review":
                await court_review.review(
                    db,
                    principal,
                    filing,
                    form.get("outcome"),
                    court_case_number=form.get("court_case_number"),
                    note=form.get("note"),
                    rest=rest,
                )
            elif step == "decision":
                await court_review.decide(
                    db, principal, filing, form.get("decision"), form.get("note")
                )
            else:
                await court_review.extend(
                    db, principal, filing, form.get("approved_by"), form.get("reason"), rest=rest
                )
            status = filing.status
    except (UserError, Conflict) as error:
        return await court_inbox(request, FormFailure.of(step, error, form), filing_id)
    if status in court_review.DECISIONS:
        await announce_case_status(request.app, filing.case_id, status)
    raise web.HTTPSeeOther(f"/court/inbox#filing-{filing_id}")


async def filing_step(request: web.Request) -> web.StreamResponse:
    """On the case page: the mediator answers a supplement request; a party withdraws the
    application. A refusal shows the case page again with the message at the form."""
    principal = current(request)
    step = request.match_info["step"]
    case_id = _int(request, "case_id")
    form = form_dict(await request.post())
    try:
        async with transaction(request.app) as db:
            case = await load_case(db, principal, case_id)
            filing = await court_review.live_filing(db, case.id)
            if filing is None:
                raise Conflict(court_review.NOT_NOW)
            if step == "resubmit":
                await court_review.resubmit(db, principal, case, filing, form.get("note"))
            else:
                await court_review.withdraw(db, principal, filing, form.get("note"))
    except (UserError, Conflict) as error:
        return await render_case_page(request, case_id, FormFailure.of(step, error, form))
    raise web.HTTPSeeOther(f"/cases/{case_id}#agreement")
