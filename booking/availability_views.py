"""The availability page: /staff/{id}/availability (oneself, or coordinators and admins for
their subtree). A bad value re-shows the form, as typed, with the message."""

from __future__ import annotations

from aiohttp import web

from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.rendering import render
from booking.availability import (
    NO_SUCH_PERSON,
    check_availability,
    do_save,
    editable,
)
from booking.availability import current as current_availability
from booking.models import AvailabilityException, AvailabilityRule, BookingProfile
from booking.search import DEFAULT_TIMEZONE
from booking.slots import local_today

WEEKDAYS = range(7)


def _staff_id(request: web.Request) -> int:
    staff_id = parse_id(request.match_info["staff_id"])
    if staff_id is None:
        raise NotFound(NO_SUCH_PERSON)
    return staff_id


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _window(start: int, end: int) -> str:
    return f"{_hhmm(start)}-{_hhmm(end)}"


def _exception_line(e: AvailabilityException) -> str:
    whole_day = (e.start_minute, e.end_minute) == (0, 1440)
    times = "" if whole_day else f" {_window(e.start_minute, e.end_minute)}"
    return f"{e.day.isoformat()} {e.kind}{times}"


def _values(
    rules: list[AvailabilityRule],
    exceptions: list[AvailabilityException],
    profile: BookingProfile | None,
) -> dict[str, str]:
    values = {
        f"day{w}": ", ".join(_window(r.start_minute, r.end_minute) for r in rules if r.weekday == w)
        for w in WEEKDAYS
    }
    values["exceptions"] = "\n".join(
        f"{e.day.isoformat()} {e.kind}"
        + (
            ""
            if (e.start_minute, e.end_minute) == (0, 1440)
            else f" {_window(e.start_minute, e.end_minute)}"
        )
        for e in exceptions
    )
    values["buffer_minutes"] = str(profile.buffer_minutes if profile else 0)
    values["daily_max"] = str(profile.daily_max) if profile and profile.daily_max else ""
    values["timezone"] = profile.timezone if profile else DEFAULT_TIMEZONE
    return values


async def availability_form(request: web.Request) -> web.Response:
    async with request.app[sessionmaker_key]() as db:
        person = await editable(db, current(request), _staff_id(request))
        rules, exceptions, profile = await current_availability(db, person.id, local_today())
    context = {
        "person": person,
        "values": _values(rules, exceptions, profile),
        "errors": {},
        "saved": "saved" in request.query,
        "weekdays": WEEKDAYS,
    }
    return render(request, "booking/availability.html", context)


async def availability_submit(request: web.Request) -> web.StreamResponse:
    staff_id = _staff_id(request)
    data = form_dict(await request.post())
    async with transaction(request.app) as db:
        person = await editable(db, current(request), staff_id)
        try:
            change = check_availability(data)
        except ValidationFailed as failed:
            context = {
                "person": person,
                "values": data,
                "errors": failed.fields,
                "saved": False,
                "weekdays": WEEKDAYS,
            }
            return render(request, "booking/availability.html", context, status=422)
        await do_save(db, person, change, local_today())
    raise web.HTTPSeeOther(f"/staff/{staff_id}/availability?saved=1")
