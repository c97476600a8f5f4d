"""The booking JSON API under /api/v1 (staff bearer tokens). Same services as the HTML pages.
(Applications, evidence and progress lookup: booking/intake_api.py.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import parse_id, read_json
from app.i18n import N_, SHANGHAI
from app.settings import settings_key
from booking import services
from booking.forms import (
    BAD_INSTANT,
    BAD_MINUTES,
    booking_json,
    in_date_range,
    json_int,
    parse_instant,
    parse_minutes,
    search_days,
)
from booking.models import Appointment
from booking.search import Found, free_slots, search
from booking.slots import LENGTHS, local_days

MAX_PEOPLE = 1000
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
STAFF_LIST = N_("Give the people as a comma-separated list of at most 1000 ids.")
PANEL_NEEDS_STAFF = N_("A search for a panel needs the list of its members.")
BAD_LIMIT = N_("Give a limit from 1 to 200.")
BAD_ZONE = N_("Give a time zone by its IANA name, e.g. Europe/Berlin.")
EXPERT_IDS = N_("Give the experts as a list of at most five ids.")


def iso(moment: datetime) -> str:
    """ISO 8601 with the Asia/Shanghai offset, e.g. 2026-11-20T09:00:00+08:00."""
    return moment.astimezone(SHANGHAI).isoformat()


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
    experts = expert_ids_json(body)
    settings = request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        plan = await services.check_booking(
            db,
            principal,
            case_id,
            wanted.mediator_id,
            wanted.starts_at,
            wanted.minutes,
            expert_ids=experts,
        )
        booked = await services.do_book(db, settings, principal, plan)
        # The invitation links are never in the answer: it may be stored for replays, and only
        # the links' hashes may ever be stored. The outbox job texts them to the parties.
        return 201, appointment_json(booked.appointment, booked.members)

    request_hash = idempotency.fingerprint("POST", request.path, body)
    # Every effect of a booking is in its transaction: a retry finds its slot taken or its key
    # stored, rolls back and answers as stored, so a first attempt need not look the key up.
    stored = await idempotency.run(
        request.app, principal.key, key, request_hash, action, look_first=False
    )
    return idempotency.json_response(stored)


def appointment_json(
    appointment: Appointment, members: Sequence[services.Member]
) -> dict[str, Any]:
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    return {
        "id": appointment.id,
        "case_id": appointment.case_id,
        "mediator_id": appointment.staff_id,
        "mediator_name": members[0].name if members else "",
        "experts": [{"id": m.staff_id, "name": m.name} for m in members[1:]],
        "starts_at": iso(appointment.starts_at),
        "ends_at": iso(appointment.ends_at),
        "minutes": minutes,
        "status": appointment.status,
        "sequence": appointment.sequence,
    }


def expert_ids_json(body: Mapping[str, Any]) -> list[int]:
    raw = body.get("expert_ids", [])
    if not isinstance(raw, list) or len(raw) > services.MAX_EXPERTS:
        raise ValidationFailed({"expert_ids": EXPERT_IDS})
    errors: dict[str, str] = {}
    ids = [json_int({"id": item}, "id", errors) for item in raw]
    if errors:
        raise ValidationFailed({"expert_ids": EXPERT_IDS})
    return [i for i in ids if i is not None]


# --- the set-based slot search -------------------------------------------------------------


@dataclass(frozen=True)
class SlotQuery:
    staff_ids: list[int] | None  # None: every bookable person of the caller's organisations
    first: date
    last: date
    minutes: int
    together: bool
    limit: int
    zone: ZoneInfo | None


def _ids(raw: str | None, errors: dict[str, str]) -> list[int] | None:
    if raw is None:
        return None
    parts = [parse_id(part) for part in raw.split(",")]
    if not raw or len(parts) > MAX_PEOPLE or any(p is None for p in parts):
        errors["staff"] = STAFF_LIST
        return None
    return [p for p in parts if p is not None]


def _zone(raw: str | None, errors: dict[str, str]) -> ZoneInfo | None:
    if raw is None:
        return None
    try:
        if raw and len(raw) <= 64 and ".." not in raw:
            return ZoneInfo(raw)
    except (ValueError, KeyError, OSError):
        pass
    errors["tz"] = BAD_ZONE
    return None


def slot_query(query: Mapping[str, str]) -> SlotQuery:
    errors: dict[str, str] = {}
    try:
        first, last = search_days(query.get("from"), query.get("to"))
    except ValidationFailed as error:
        errors.update(error.fields)
        first = last = date.min
    minutes = parse_minutes(query.get("minutes"))
    if minutes not in LENGTHS:
        errors["minutes"] = BAD_MINUTES
    limit = parse_minutes(query.get("limit") or str(DEFAULT_LIMIT))
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = BAD_LIMIT
    staff_ids, zone = _ids(query.get("staff"), errors), _zone(query.get("tz"), errors)
    together = query.get("together", "false").lower() in ("1", "true")
    if together and not staff_ids and "staff" not in errors:
        errors["staff"] = PANEL_NEEDS_STAFF
    if errors or minutes is None or limit is None:
        raise ValidationFailed(errors)
    return SlotQuery(staff_ids, first, last, minutes, together, limit, zone)


def slot_json(slot: Found, zone: ZoneInfo | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "starts_at": iso(slot.starts_at),
        "ends_at": iso(slot.ends_at),
        "staff_ids": list(slot.staff_ids),
    }
    if zone is not None:  # a party abroad sees their own time beside Beijing time
        found["local_starts_at"] = slot.starts_at.astimezone(zone).isoformat()
    return found


async def find_slots(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    wanted = slot_query(request.query)
    start, end = local_days(wanted.first, wanted.last)
    async with request.app[sessionmaker_key]() as db:
        if wanted.staff_ids is None:
            people = await services.bookable_ids_all(db, principal)
        else:
            people = await services.bookable_ids(db, principal, wanted.staff_ids)
            if people != set(wanted.staff_ids):
                raise NotFound(services.NO_SUCH_MEDIATOR)
        found = await search(
            db,
            people,
            start=start,
            end=end,
            minutes=wanted.minutes,
            together=wanted.together,
            limit=wanted.limit,
        )
    return web.json_response(
        {
            "from": wanted.first.isoformat(),
            "to": wanted.last.isoformat(),
            "minutes": wanted.minutes,
            "together": wanted.together,
            "slots": [slot_json(slot, wanted.zone) for slot in found],
        }
    )


# --- changing an appointment -----------------------------------------------------------------


async def _case_of(db: AsyncSession, appointment_id: int) -> int:
    case_id = await db.scalar(select(Appointment.case_id).where(Appointment.id == appointment_id))
    if case_id is None:
        raise NotFound(services.NO_SUCH_APPOINTMENT)
    return case_id


def _appointment_id(request: web.Request) -> int:
    appointment_id = parse_id(request.match_info["appointment_id"])
    if appointment_id is None:
        raise NotFound(services.NO_SUCH_APPOINTMENT)
    return appointment_id


async def _changed(db: AsyncSession, appointment: Appointment) -> tuple[int, dict[str, Any]]:
    await db.flush()
    return 200, appointment_json(appointment, await services.members_of(db, appointment.id))


async def reschedule_appointment(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    appointment_id = _appointment_id(request)
    body = await read_json(request)
    raw = body.get("starts_at")
    starts_at = parse_instant(raw) if isinstance(raw, str) else None
    if starts_at is None or not in_date_range(starts_at.date()):
        raise ValidationFailed({"starts_at": BAD_INSTANT})
    settings = request.app[settings_key]
    async with transaction(request.app) as db:
        case_id = await _case_of(db, appointment_id)
        case, appointment = await services.check_reschedule(
            db, settings, principal, case_id, appointment_id, starts_at
        )
        await services.do_reschedule(db, principal, case, appointment, starts_at)
        status, answer = await _changed(db, appointment)
    return web.json_response(answer, status=status)


async def cancel_appointment(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    appointment_id = _appointment_id(request)
    settings = request.app[settings_key]
    async with transaction(request.app) as db:
        case_id = await _case_of(db, appointment_id)
        case, appointment = await services.check_change(
            db, settings, principal, case_id, appointment_id
        )
        await services.do_cancel(db, principal, case, appointment)
        status, answer = await _changed(db, appointment)
    return web.json_response(answer, status=status)


async def mark_no_show(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    appointment_id = _appointment_id(request)
    async with transaction(request.app) as db:
        case_id = await _case_of(db, appointment_id)
        case, appointment = await services.check_no_show(db, principal, case_id, appointment_id)
        await services.do_no_show(db, principal, case, appointment)
        status, answer = await _changed(db, appointment)
    return web.json_response(answer, status=status)
