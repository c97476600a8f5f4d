"""A mediator's or expert's own calendar: their appointments for a day or a week (Asia/Shanghai),
in one statement whatever the number of appointments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import current
from app.db import sessionmaker_key
from app.errors import ValidationFailed
from app.i18n import N_, SHANGHAI
from app.models import Case
from app.rendering import render
from booking.forms import date_error, parse_date
from booking.models import Appointment, AppointmentMember
from booking.slots import local_days, local_today

CALENDAR_ROLES = ("mediator", "expert")
VIEWS = {"day": 1, "week": 7}
BAD_VIEW = N_("Please choose a day or a week.")


@dataclass(frozen=True)
class Entry:
    appointment_id: int
    case_id: int
    number: str | None
    dispute_type: str
    starts_at: datetime
    ends_at: datetime
    status: str
    role: str  # mediator | expert

    @property
    def until(self) -> str:
        return self.ends_at.astimezone(SHANGHAI).strftime("%H:%M")


async def appointments_of(db: AsyncSession, staff_id: int, first: date, days: int) -> list[Entry]:
    start, end = local_days(first, first + timedelta(days=days - 1))
    rows = await db.execute(
        select(
            Appointment.id,
            Appointment.case_id,
            Case.number,
            Case.dispute_type,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            AppointmentMember.role,
        )
        .join(AppointmentMember, AppointmentMember.appointment_id == Appointment.id)
        .join(Case, Case.id == Appointment.case_id)
        .where(
            AppointmentMember.staff_id == staff_id,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [Entry(*row) for row in rows.all()]


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def calendar_page(request: web.Request) -> web.Response:
    principal = current(request)
    principal.require_staff(*CALENDAR_ROLES)
    assert principal.staff_id is not None
    raw_day, view = request.query.get("day"), request.query.get("view", "week")
    errors: dict[str, str] = {}
    day = parse_date(raw_day) if raw_day else local_today()
    if day is None:
        errors["day"] = date_error(raw_day)
    if view not in VIEWS:
        errors["view"] = BAD_VIEW
    if errors:
        raise ValidationFailed(errors)
    assert day is not None
    first = _week_start(day) if view == "week" else day
    async with request.app[sessionmaker_key]() as db:
        entries = await appointments_of(db, principal.staff_id, first, VIEWS[view])
    by_day = {
        local: list(group)
        for local, group in groupby(entries, key=lambda e: e.starts_at.astimezone(SHANGHAI).date())
    }
    step = timedelta(days=VIEWS[view])
    context = {
        "view": view,
        "days": [first + timedelta(days=i) for i in range(VIEWS[view])],
        "by_day": by_day,
        "previous": first - step,
        "next": first + step,
        "today": local_today(),
    }
    response = render(request, "booking/calendar.html", context)
    response.headers["Cache-Control"] = "private, no-store"
    return response
