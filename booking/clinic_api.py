"""The appointment clinic's JSON API: open sessions and booking a place (public, with an SMS
code), cancelling by the link's token; creating sessions and their lists (staff)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import NAME_MAX_LENGTH, clean, parse_id, read_json
from app.i18n import N_, SHANGHAI, gettext
from app.identity import normalize_phone
from app.settings import settings_key
from booking import clinic
from booking.forms import BAD_INSTANT, DATE_OUT_OF_RANGE, in_date_range, json_int, parse_instant
from booking.phone_codes import send_code, verify

BAD_PHONE = N_("Please enter an 11-digit mainland mobile number.")
BAD_NAME = N_("Please enter your name.")
BAD_TOKEN = N_("Give the token from the link in your SMS.")
CODE_TEXTED = N_("We sent a 6-digit code to this phone. It is valid for a few minutes.")
TOPIC_MAX_LENGTH = 200


def iso(moment: Any) -> str:
    return str(moment.astimezone(SHANGHAI).isoformat())


def session_json(listed: clinic.Listed) -> dict[str, Any]:
    session = listed.session
    return {
        "id": session.id,
        "kind": session.kind,
        "topic": session.topic,
        "staff": {"id": session.staff_id, "name": listed.staff_name},
        "org": {"id": session.org_id, "name": listed.org_name},
        "starts_at": iso(session.starts_at),
        "ends_at": iso(session.ends_at),
        "place_minutes": session.place_minutes,
        "capacity": session.capacity,
        "free": session.capacity - session.booked,
    }


def place_json(place: Any, session: Any) -> dict[str, Any]:
    number = place.place
    starts = clinic.place_time(session, number) if number is not None else session.starts_at
    return {
        "id": place.id,
        "session_id": session.id,
        "place": None if number is None else number + 1,
        "starts_at": iso(starts),
        "status": place.status,
    }


def phone_of(body: dict[str, Any], errors: dict[str, str]) -> str:
    raw = body.get("phone")
    phone = normalize_phone(raw) if isinstance(raw, str) else None
    if phone is None:
        errors["phone"] = BAD_PHONE
    return phone or ""


def name_of(body: dict[str, Any], errors: dict[str, str]) -> str:
    raw = body.get("name")
    name = clean(raw) if isinstance(raw, str) else ""
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        errors["name"] = BAD_NAME
    return name


async def list_sessions(request: web.Request) -> web.StreamResponse:
    async with request.app[sessionmaker_key]() as db:
        found = await clinic.open_sessions(db)
    return web.json_response({"sessions": [session_json(listed) for listed in found]})


async def request_code(request: web.Request) -> web.StreamResponse:
    errors: dict[str, str] = {}
    phone = phone_of(await read_json(request), errors)
    if errors:
        raise ValidationFailed(errors)
    await send_code(request, clinic.CODE_PURPOSE, clinic.code_subject(phone), phone)
    return web.json_response({"message": gettext(CODE_TEXTED)}, status=202)


async def book_place(request: web.Request) -> web.StreamResponse:
    """A place for a phone proven by its code. The answer holds no link (it may be stored for
    replays): the link to cancel goes out by SMS."""
    body = await read_json(request)
    errors: dict[str, str] = {}
    session_id = json_int(body, "session_id", errors)
    name, phone = name_of(body, errors), phone_of(body, errors)
    code = body.get("phone_code")
    if not isinstance(code, str) or not code.strip():
        errors["phone_code"] = N_("Please enter the code from the SMS.")
    if errors or session_id is None or not isinstance(code, str):
        raise ValidationFailed(errors)
    settings = request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        verified = await verify(request, db, clinic.CODE_PURPOSE, clinic.code_subject(phone), code)
        place, session, _token = await clinic.do_book_place(
            db, settings, session_id, name, phone, verified
        )
        return 201, place_json(place, session)

    key = idempotency.key_from(request)
    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, f"clinic:{phone}", key, request_hash, action)
    return idempotency.json_response(stored)


async def cancel_place(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    token = body.get("token")
    if not isinstance(token, str) or not 16 <= len(token) <= 128:
        raise ValidationFailed({"token": BAD_TOKEN})
    async with transaction(request.app) as db:
        place, session = await clinic.do_cancel_place(db, token)
        return web.json_response(place_json(place, session))


def new_session(body: dict[str, Any]) -> clinic.NewSession:
    errors: dict[str, str] = {}
    staff_id = json_int(body, "staff_id", errors)
    raw_start = body.get("starts_at")
    starts_at = parse_instant(raw_start) if isinstance(raw_start, str) else None
    if starts_at is None:
        errors["starts_at"] = BAD_INSTANT
    elif not in_date_range(starts_at.date()):
        errors["starts_at"] = DATE_OUT_OF_RANGE
    numbers = {}
    for field, default in (("capacity", None), ("place_minutes", 20), ("minutes", 120)):
        value = body.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            errors[field] = N_("Please give a whole number.")
            value = 0
        numbers[field] = value
    kind, topic = body.get("kind"), body.get("topic", "")
    if not isinstance(kind, str):
        errors["kind"] = clinic.BAD_KIND
    if not isinstance(topic, str) or len(topic) > TOPIC_MAX_LENGTH:
        errors["topic"] = N_("The topic is at most 200 characters.")
    if errors or staff_id is None or starts_at is None:
        raise ValidationFailed(errors)
    return clinic.NewSession(staff_id, str(kind), starts_at, topic=clean(str(topic)), **numbers)


async def create_session(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    body = await read_json(request)
    wanted = new_session(body)

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        return 201, session_json(await clinic.do_create_session(db, principal, wanted))

    key = idempotency.key_from(request)
    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)


async def session_places(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    session_id = parse_id(request.match_info["session_id"])
    if session_id is None:
        raise NotFound(clinic.NO_SUCH_SESSION)
    async with request.app[sessionmaker_key]() as db:
        listed, holders = await clinic.session_list(db, principal, session_id)
    return web.json_response(
        {
            "session": session_json(listed),
            "places": [
                {
                    "place": h.place + 1,
                    "starts_at": iso(h.starts_at),
                    "name": h.name,
                    "phone": h.phone,
                }
                for h in holders
            ],
        }
    )
