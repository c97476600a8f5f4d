"""The appointment clinic's staff pages: schedule duty sessions and see who booked them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.rendering import render
from booking import clinic, services
from booking.forms import BAD_TIME, WHOLE_NUMBER, date_error, parse_date, parse_time
from booking.slots import local_moment


def _number(data: dict[str, str], name: str, default: int, errors: dict[str, str]) -> int:
    raw = data.get(name, "").strip() or str(default)
    if not raw.isdigit() or len(raw) > 4:
        errors[name] = WHOLE_NUMBER
        return 0
    return int(raw)


def session_form(data: dict[str, str]) -> clinic.NewSession:
    errors: dict[str, str] = {}
    staff_id = parse_id(data.get("staff_id"))
    if staff_id is None:
        errors["staff_id"] = clinic.NO_SUCH_STAFF
    day, at = parse_date(data.get("date")), parse_time(data.get("time"))
    if day is None:
        errors["date"] = date_error(data.get("date"))
    if at is None:
        errors["time"] = BAD_TIME
    capacity = _number(data, "capacity", 0, errors)
    place_minutes = _number(data, "place_minutes", 20, errors)
    minutes = _number(data, "minutes", 120, errors)
    if errors or staff_id is None or day is None or at is None:
        raise ValidationFailed(errors)
    return clinic.NewSession(
        staff_id,
        data.get("kind", ""),
        local_moment(day, at),
        capacity,
        place_minutes,
        minutes,
        data.get("topic", "")[:200],
    )


async def _page(request: web.Request, context: dict[str, Any], status: int = 200) -> web.Response:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        sessions = await clinic.sessions_of(db, principal)
        staff = await services.bookable_staff(db, principal)
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.update(sessions=sessions, staff=staff, kinds=clinic.KINDS)
    context.update(lengths=clinic.PLACE_LENGTHS, kind_labels=clinic.KIND_LABELS)
    return render(request, "booking/clinic_sessions.html", context, status=status)


async def sessions_page(request: web.Request) -> web.StreamResponse:
    current(request).require_staff()
    return await _page(request, {})


async def create_session(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    data = form_dict(await request.post())
    try:
        wanted = session_form(data)
        async with transaction(request.app) as db:
            listed = await clinic.do_create_session(db, principal, wanted)
    except ValidationFailed as error:
        return await _page(request, {"values": data, "errors": error.fields}, status=422)
    raise web.HTTPSeeOther(f"/clinic/sessions/{listed.session.id}")


async def session_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    session_id = parse_id(request.match_info["session_id"])
    if session_id is None:
        raise NotFound(clinic.NO_SUCH_SESSION)
    async with request.app[sessionmaker_key]() as db:
        listed, holders = await clinic.session_list(db, principal, session_id)
    context = {"listed": listed, "holders": holders, "kind_labels": clinic.KIND_LABELS}
    return render(request, "booking/clinic_session.html", context)
