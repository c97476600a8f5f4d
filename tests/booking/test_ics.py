"""Invitations by email through a real SMTP server on loopback (aiosmtpd), the ICS file parsed
back with icalendar across book → reschedule → cancel; reminders skip moved appointments."""

from __future__ import annotations

import email
import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.factory import create_app
from app.jobs import run_pending
from app.models import Job, Message
from booking.demo import seed_availability
from booking.models import BookingProfile
from booking.reminders import send_reminder
from tests.booking.setup_data import bearer, count, register_case, tomorrow_at
from tests.people import seed_ids

URL = "/api/v1/appointments"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def calendar_of(message: email.message.Message) -> Calendar:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


async def test_ics_by_smtp_across_book_reschedule_cancel(settings, aiohttp_client, smtp):
    inbox, port = smtp
    app = create_app(replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False))
    client = await aiohttp_client(app)
    ids = await seed_ids(app)
    await seed_availability(app)
    await register_case(app, ids["case"], ids["user:coordinator"])
    async with transaction(app) as db:
        db.add(BookingProfile(staff_id=ids["user:mediator"], email="chen@example.cn"))
    headers = await bearer(app, ids["user:coordinator"])
    wanted = {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": (tomorrow_at(9) + timedelta(days=2)).isoformat(),
    }
    booked = await (await client.post(URL, json=wanted, headers=headers)).json()
    await run_pending(app)
    moved_to = tomorrow_at(14) + timedelta(days=2)
    path = f"{URL}/{booked['id']}"
    response = await client.post(
        f"{path}/reschedule", json={"starts_at": moved_to.isoformat()}, headers=headers
    )
    assert response.status == 200
    await run_pending(app)
    assert (await client.post(f"{path}/cancel", headers=headers)).status == 200
    await run_pending(app)

    assert [m["To"] for m in inbox.messages] == ["chen@example.cn"] * 3
    calendars = [calendar_of(m) for m in inbox.messages]
    methods = [str(c["METHOD"]) for c in calendars]
    events = [c.walk("VEVENT")[0] for c in calendars]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert len({str(e["UID"]) for e in events}) == 1  # one event, updated in place
    assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
    assert events[1].decoded("DTSTART") == moved_to
    assert str(events[2]["STATUS"]) == "CANCELLED"
    assert all(c.walk("VTIMEZONE")[0]["TZID"] == "Asia/Shanghai" for c in calendars)
    assert events[0].decoded("DTSTART").tzinfo is not None
    # Every email is on the outbox page too, and each party got an SMS per change.
    assert await count(app, Message, Message.channel == "email") == 3
    assert await count(app, Message, Message.channel == "sms") == 6


async def test_reminders_at_24_and_1_hours_never_for_moved_or_cancelled(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    starts = tomorrow_at(9) + timedelta(days=2)
    wanted = {
        "case_id": registered["case"],
        "mediator_id": registered["user:mediator"],
        "starts_at": starts.isoformat(),
    }
    booked = await (await client.post(URL, json=wanted, headers=headers)).json()
    async with app[sessionmaker_key]() as db:
        jobs = list(
            await db.scalars(
                select(Job).where(Job.kind == "appointment_reminder").order_by(Job.run_after)
            )
        )
    assert [j.payload["hours"] for j in jobs] == [24, 1]
    assert abs(jobs[1].run_after - (starts - timedelta(hours=1))) < timedelta(minutes=1)
    await run_pending(app)
    before = await count(app, Message)

    moved = await client.post(
        f"{URL}/{booked['id']}/reschedule",
        json={"starts_at": (starts + timedelta(hours=1)).isoformat()},
        headers=headers,
    )
    assert moved.status == 200
    await run_pending(app)
    after_move = await count(app, Message)
    await send_reminder(app, jobs[0].payload)  # queued for the old time: dropped
    await run_pending(app)
    assert await count(app, Message) == after_move > before
    async with app[sessionmaker_key]() as db:
        fresh = list(
            await db.scalars(
                select(Job).where(Job.kind == "appointment_reminder", Job.status == "pending")
            )
        )
    assert {j.payload["sequence"] for j in fresh} == {0, 1}
    current = next(j for j in fresh if j.payload["sequence"] == 1)
    await send_reminder(app, current.payload)
    await send_reminder(app, current.payload)  # at least once: a second run sends nothing
    await run_pending(app)
    assert await count(app, Message) == after_move + 2
