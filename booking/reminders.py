"""The day-before SMS reminder, queued when an appointment is booked (at-least-once; a cancelled
appointment is skipped when the job runs)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.db import transaction
from app.i18n import format_datetime
from app.jobs import register
from app.models import Case, StaffUser
from app.notify import notify_parties
from booking.invitations import SMS_LOCALE
from booking.models import Appointment


async def send_reminder(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        appointment = await db.get(Appointment, payload["appointment_id"])
        if appointment is None or appointment.status != "booked":
            return
        case = await db.get(Case, appointment.case_id)
        mediator = await db.get(StaffUser, appointment.staff_id)
        if case is None or mediator is None:
            return
        await notify_parties(
            db,
            case,
            "Reminder: your mediation (case {number}) is on {time} with mediator "
            "{mediator}. Join with the link from our earlier SMS.",
            time=format_datetime(appointment.starts_at, SMS_LOCALE),
            mediator=mediator.display_name,
        )


def setup(app: web.Application) -> None:
    register(app, "appointment_reminder", send_reminder)
