"""HTML pages: registration, booking, invitations, cancelling (applying: intake_views.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.i18n import SHANGHAI
from app.idempotency import IdempotencyKeyReused, StoredResponse
from app.models import Case
from app.policy import CASE_NOT_FOUND, load_case, require_case_staff
from app.rendering import render
from app.revocation import announce_revoked
from app.security import CSRF_FIELD
from app.services import parties_of
from app.settings import settings_key
from app.tokens import new_token
from booking import services
from booking.forms import (
    BAD_MINUTES,
    BAD_TIME,
    booking_form,
    date_error,
    parse_date,
    parse_minutes,
    parse_time,
)
from booking.invitations import Invitation, link_status, notice_of, org_name
from booking.invitations import calendar_file as ics_file
from booking.search import free_slots
from booking.slots import DEFAULT_MINUTES, LENGTHS, local_days, local_moment, local_today

SEARCH_DAYS = 7
NO_STORE = {"Cache-Control": "no-store"}
_FORM_ONLY = (CSRF_FIELD, "submission_id")


def case_id_of(request: web.Request) -> int:
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise NotFound(CASE_NOT_FOUND)
    return case_id


async def _once(
    request: web.Request,
    data: dict[str, str],
    action: Callable[[AsyncSession], Awaitable[tuple[int, dict[str, Any]]]],
) -> StoredResponse:
    """Runs a form's action once per `submission_id` (a double tap on a phone sends it twice)."""
    key = data.get("submission_id") or None
    key = key if key and len(key) <= idempotency.MAX_KEY_LENGTH else None
    payload = {k: v for k, v in sorted(data.items()) if k not in _FORM_ONLY}
    request_hash = idempotency.fingerprint(request.method, request.path, payload)
    principal = current(request).key
    try:
        return await idempotency.run(request.app, principal, key, request_hash, action)
    except IdempotencyKeyReused:
        # The person went back and sent the old form with new content: that is a new request.
        return await idempotency.run(request.app, principal, None, request_hash, action)


# --- booking ---------------------------------------------------------------------------------


def _group_by_day(starts: list[datetime]) -> list[tuple[date, list[datetime]]]:
    local = (start.astimezone(SHANGHAI) for start in starts)
    return [(day, list(group)) for day, group in groupby(local, key=lambda moment: moment.date())]


async def _book_context(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    values: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    staff = await services.bookable_staff(db, principal)
    orgs = await services.organizations_of(db, staff)
    chosen = next((p for p in staff if p.id == parse_id(values.get("mediator_id"))), None)
    day = parse_date(values.get("date")) if values.get("date") else local_today()
    if day is None:
        errors = {**errors, "date": date_error(values.get("date"))}
    minutes = parse_minutes(values.get("minutes"))
    if minutes not in LENGTHS:
        errors, minutes = {**errors, "minutes": BAD_MINUTES}, DEFAULT_MINUTES
    days: list[tuple[date, list[datetime]]] = []
    if chosen is not None and day is not None:
        start, end = local_days(day, day + timedelta(days=SEARCH_DAYS - 1))
        starts = await free_slots(db, chosen.id, start=start, end=end, minutes=minutes)
        days = _group_by_day(starts)
    return {
        "case": case,
        "staff": staff,
        "orgs": orgs,
        "chosen": chosen,
        "day": day or local_today(),
        "minutes": minutes,
        "lengths": LENGTHS,
        "days": days,
        "values": values,
        "errors": errors,
        "submission_id": values.get("submission_id") or new_token(),
        "problem": None,
    }


async def book_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    case_id = case_id_of(request)
    values = {k: v for k, v in form_dict(request.query).items() if k != "submission_id"}
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        context = await _book_context(db, principal, case, values, {})
    status = 422 if context["errors"] else 200
    return render(request, "booking/book.html", context, status=status)


async def _book_again(
    request: web.Request,
    case_id: int,
    data: dict[str, str],
    status: int,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> web.Response:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        context = await _book_context(db, principal, case, data, errors or {})
    context["problem"] = problem
    return render(request, "booking/book.html", context, status=status)


async def book_submit(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    case_id = case_id_of(request)
    data = form_dict(await request.post())
    settings = request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        wanted = booking_form(data)
        plan = await services.check_booking(
            db, principal, case_id, wanted.mediator_id, wanted.starts_at, wanted.minutes
        )
        booked = await services.do_book(db, settings, principal, plan)
        # The links go out by SMS from the outbox job; a coordinator who wants to hand them
        # over at the desk (QR codes) sends new ones from the invitations page.
        return 201, {"appointment_id": booked.appointment.id}

    try:
        stored = await _once(request, data, action)
    except ValidationFailed as error:
        fields = dict(error.fields)
        if "starts_at" in fields:
            fields.setdefault("time", fields.pop("starts_at"))
        return await _book_again(request, case_id, data, 422, errors=fields)
    except Conflict as error:
        return await _book_again(request, case_id, data, 409, problem=error.message)
    return await _invitations_page(request, case_id, [], replayed=stored.replayed, queued=True)


# --- invitations -----------------------------------------------------------------------------


async def _invitations_page(
    request: web.Request,
    case_id: int,
    fresh: list[Invitation],
    *,
    replayed: bool = False,
    queued: bool = False,
) -> web.Response:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        require_case_staff(principal, case)
        statuses = await link_status(db, await parties_of(db, case.id))
        appointments = await services.appointments_of(db, case.id)
    context = {
        "case": case,
        "fresh": fresh,
        "statuses": statuses,
        "appointments": [a for a in appointments if a.appointment.status == "booked"],
        "replayed": replayed,
        "queued": queued,
    }
    response = render(request, "booking/invitations.html", context)
    response.headers.update(NO_STORE)
    return response


async def invitations(request: web.Request) -> web.StreamResponse:
    return await _invitations_page(request, case_id_of(request), [])


async def reissue(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    case_id = case_id_of(request)
    data = form_dict(await request.post())
    party_id = parse_id(data.get("party_id")) if data.get("party_id") else None
    if data.get("party_id") and party_id is None:
        raise NotFound("This party does not belong to the case.")
    settings = request.app[settings_key]
    async with transaction(request.app) as db:
        case, parties = await services.check_reissue(db, principal, case_id, party_id)
        fresh, revoked = await services.do_reissue(db, settings, principal, case, parties)
    await announce_revoked(request.app, revoked)
    return await _invitations_page(request, case_id, fresh)


def _appointment_id_of(request: web.Request) -> int:
    appointment_id = parse_id(request.match_info["appointment_id"])
    if appointment_id is None:
        raise NotFound("This appointment does not exist.")
    return appointment_id


async def cancel(request: web.Request) -> web.StreamResponse:
    """Staff who book for the case, or a party from their link within the notice period."""
    principal = current(request)
    case_id, appointment_id = case_id_of(request), _appointment_id_of(request)
    settings = request.app[settings_key]
    async with transaction(request.app) as db:
        case, appointment = await services.check_change(
            db, settings, principal, case_id, appointment_id
        )
        await services.do_cancel(db, principal, case, appointment)
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def reschedule(request: web.Request) -> web.StreamResponse:
    """Moves the appointment (date and time in Asia/Shanghai), keeping its people."""
    principal = current(request)
    case_id, appointment_id = case_id_of(request), _appointment_id_of(request)
    data = form_dict(await request.post())
    day, at = parse_date(data.get("date")), parse_time(data.get("time"))
    if day is None or at is None:
        raise ValidationFailed(
            {"time": BAD_TIME} if day else {"date": date_error(data.get("date"))}
        )
    starts_at = local_moment(day, at)
    settings = request.app[settings_key]
    async with transaction(request.app) as db:
        case, appointment = await services.check_reschedule(
            db, settings, principal, case_id, appointment_id, starts_at
        )
        await services.do_reschedule(db, principal, case, appointment, starts_at)
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def calendar_file(request: web.Request) -> web.StreamResponse:
    """The appointment as an ICS file ("add to calendar"), for whoever can see the case."""
    principal = current(request)
    case_id, appointment_id = case_id_of(request), _appointment_id_of(request)
    settings = request.app[settings_key]
    async with request.app[sessionmaker_key]() as db:
        await load_case(db, principal, case_id)
        notice = await notice_of(db, appointment_id)
        if notice is None or notice.case.id != case_id:
            raise NotFound("This appointment does not exist.")
        org = await org_name(db, notice.case)
    body = ics_file(settings, notice, org)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="mediation.ics"'},
    )
