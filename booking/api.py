"""The booking JSON API under /api/v1 (staff bearer tokens). Same services as the HTML pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key
from app.errors import NotFound, ValidationFailed
from app.forms import parse_id, read_json
from app.i18n import N_, SHANGHAI
from app.policy import org_subtree
from app.services import check_application, do_submit_application
from app.settings import settings_key
from booking import services
from booking.forms import (
    BAD_MINUTES,
    api_field_names,
    application_json,
    booking_json,
    parse_minutes,
    search_days,
)
from booking.slots import LENGTHS, free_slots, local_days


def iso(moment: datetime) -> str:
    """ISO 8601 with the Asia/Shanghai offset, e.g. 2026-11-20T09:00:00+08:00."""
    return moment.astimezone(SHANGHAI).isoformat()


async def create_case(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    body = await read_json(request)
    key = idempotency.key_from(request)
    form = application_json(body)
    settings = request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        try:
            application = await check_application(db, form)
        except ValidationFailed as error:
            raise api_field_names(error) from error
        assert principal.org_id is not None  # staff always belong to an organisation
        if application.org_id not in await org_subtree(db, principal.org_id):
            raise ValidationFailed(
                {"org_id": N_("You may only file applications with your organisation or below it.")}
            )
        case = await do_submit_application(db, settings, application, actor=principal.key)
        return 201, {
            "id": case.id,
            "status": case.status,
            "org_id": case.org_id,
            "dispute_type": case.dispute_type,
        }

    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)


async def list_mediators(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    async with request.app[sessionmaker_key]() as db:
        staff = await services.bookable_staff(db, principal)
        orgs = await services.organizations_of(db, staff)
    return web.json_response(
        {
            "mediators": [
                {
                    "id": person.id,
                    "name": person.display_name,
                    "role": person.role,
                    "org": {"id": person.org_id, "name": orgs[person.org_id].name},
                }
                for person in staff
            ]
        }
    )


async def mediator_slots(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    staff_id = parse_id(request.match_info["mediator_id"])
    if staff_id is None:
        raise NotFound(services.NO_SUCH_MEDIATOR)
    first, last = search_days(request.query.get("from"), request.query.get("to"))
    raw_minutes = request.query.get("minutes")
    minutes = parse_minutes(raw_minutes) if raw_minutes is None or raw_minutes.strip() else None
    if minutes is None or minutes not in LENGTHS:
        raise ValidationFailed({"minutes": BAD_MINUTES})
    async with request.app[sessionmaker_key]() as db:
        person = await services.load_bookable(db, principal, staff_id)
        start, end = local_days(first, last)
        starts = await free_slots(db, person.id, start=start, end=end, minutes=minutes)
    length = timedelta(minutes=minutes)
    return web.json_response(
        {
            "mediator_id": person.id,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "minutes": minutes,
            "slots": [{"starts_at": iso(s), "ends_at": iso(s + length)} for s in starts],
        }
    )


async def create_appointment(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    body = await read_json(request)
    key = idempotency.key_from(request)
    case_id, wanted = booking_json(body)
    settings = request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        plan = await services.check_booking(
            db, principal, case_id, wanted.mediator_id, wanted.starts_at, wanted.minutes
        )
        booked = await services.do_book(db, settings, principal, plan)
        appointment = booked.appointment
        # The invitation links are not in the answer: it may be stored for replays, and only
        # the links' hashes may ever be stored. The parties get them by SMS.
        return 201, {
            "id": appointment.id,
            "case_id": appointment.case_id,
            "mediator_id": appointment.staff_id,
            "mediator_name": booked.mediator.display_name,
            "starts_at": iso(appointment.starts_at),
            "ends_at": iso(appointment.ends_at),
            "minutes": wanted.minutes,
            "status": appointment.status,
            "invitations_sent": len(booked.invitations),
        }

    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)
