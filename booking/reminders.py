"""Reminders at T−24 h and T−1 h, queued with every booking and every move (at least once). Each
carries the appointment's sequence when it was queued: when it runs, a cancelled appointment, or
one moved since (another sequence, with reminders of its own), gets nothing."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from app.db import transaction
from app.i18n import N_, format_datetime
from app.jobs import register
from app.models import Case, StaffUser
from app.notify import notify_parties
from booking.invitations import SMS_LOCALE, first_run
from booking.models import Appointment

REMINDER_SMS = N_(
    "Reminder: your mediation (case {number}) is on {time} with mediator "
    "{mediator}. Join with the link from our earlier SMS."
)


async def send_reminder(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        appointment = await db.get(Appointment, payload["appointment_id"])
        if appointment is None or appointment.status != "booked":
            return
        if appointment.sequence != payload.get("sequence", appointment.sequence):
            return  # moved since: the move queued its own reminders
        key = f"reminder:{appointment.id}:{appointment.sequence}:{payload.get('hours', 24)}"
        if not await first_run(db, key):
            return
        case = await db.get(Case, appointment.case_id)
        name = await db.scalar(
            select(StaffUser.display_name).where(StaffUser.id == appointment.staff_id)
        )
        if case is None:
            return
        await notify_parties(
            db,
            case,
            REMINDER_SMS,
            time=format_datetime(appointment.starts_at, SMS_LOCALE),
            mediator=name or "",
        )


def setup(app: web.Application) -> None:
    register(app, "appointment_reminder", send_reminder)
