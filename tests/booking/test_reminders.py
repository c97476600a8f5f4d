"""The day-before reminder: queued with the booking, skipped once the appointment is cancelled."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Job, Message
from booking.models import Appointment
from booking.reminders import send_reminder
from tests.booking.setup_data import bearer, count, tomorrow_at


async def test_reminder_is_queued_for_the_day_before_and_skips_cancelled(app, client, registered):
    starts = tomorrow_at(9) + timedelta(days=2)
    headers = await bearer(app, registered["user:coordinator"])
    body = {
        "case_id": registered["case"],
        "mediator_id": registered["user:mediator"],
        "starts_at": starts.isoformat(),
    }
    response = await client.post("/api/v1/appointments", json=body, headers=headers)
    assert response.status == 201
    appointment_id = (await response.json())["id"]
    async with app[sessionmaker_key]() as db:
        job = await db.scalar(select(Job).where(Job.kind == "appointment_reminder"))
    assert job is not None
    assert job.payload == {"appointment_id": appointment_id, "sequence": 0, "hours": 24}
    assert abs(job.run_after - (starts - timedelta(hours=24))) < timedelta(minutes=1)

    await run_pending(app)  # the invitations go now; the reminder is not due yet
    assert await count(app, Message) == 2
    await send_reminder(app, job.payload)
    await run_pending(app)
    reminders = await count(app, Message, Message.body.contains("陈调解"))
    assert await count(app, Message) == 4 and reminders == 4

    async with transaction(app) as db:
        appointment = await db.get(Appointment, appointment_id)
        assert appointment is not None
        appointment.status = "cancelled"
    await send_reminder(app, job.payload)
    await run_pending(app)
    assert await count(app, Message) == 4
