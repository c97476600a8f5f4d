"""The room opens a set time before the case's appointment and belongs to it; ending a session
shuts it until the next appointment's room opens. Real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db import sessionmaker_key, transaction, utcnow
from app.settings import settings_key
from booking.models import Appointment
from rooms.models import Room
from rooms.protocol import CLOSE_CODES
from tests.rooms.conftest import Member, join, open_socket


async def book(app, demo, starts: datetime) -> int:
    async with transaction(app) as db:
        appointment = Appointment(
            case_id=demo["case"],
            staff_id=demo["user:mediator"],
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            created_by="test",
        )
        db.add(appointment)
        await db.flush()
        return appointment.id


async def refused(browser, room: int) -> dict:
    member = Member(await open_socket(browser, room))
    await member.send(type="join")
    error = await member.expect("error")
    assert error["code"] == "not-open-yet"
    assert await member.closed() == CLOSE_CODES["not-open-yet"]
    return error


async def test_parties_wait_for_the_opening_staff_may_enter_early(
    app, demo, mediator, applicant, room
):
    starts = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    appointment = await book(app, demo, starts)
    error = await refused(applicant, room)
    opens = starts - timedelta(minutes=app[settings_key].room_opens_minutes_before)
    assert datetime.fromisoformat(error["data"]["opensAt"]) == opens
    assert set(error["message"]) == {"zh_CN", "en"}
    med, welcome = await join(mediator, room)
    assert datetime.fromisoformat(welcome["room"]["opensAt"]) == opens
    async with app[sessionmaker_key]() as db:
        bound = await db.get(Room, room)
        assert bound is not None and bound.appointment_id == appointment
    await med.ws.close()


async def test_parties_enter_once_the_room_is_open(app, demo, mediator, applicant, room):
    await book(app, demo, utcnow() + timedelta(minutes=20))
    _party, welcome = await join(applicant, room)
    assert welcome["you"]["admission"] == "waiting"
    assert datetime.fromisoformat(welcome["room"]["opensAt"]) <= utcnow()


async def test_after_the_end_the_next_appointment_opens_a_new_room(
    app, demo, mediator, applicant, room
):
    first = await book(app, demo, utcnow() + timedelta(minutes=10))
    med, _ = await join(mediator, room)
    await med.send(type="end")
    await med.expect("ended")
    # The session of the first appointment took place: the next one owns the case's next room.
    tomorrow = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    second = await book(app, demo, tomorrow)
    page = await applicant.get(f"/cases/{demo['case']}/room", allow_redirects=False)
    new_room = int(page.headers["Location"].rsplit("/", 1)[1])
    error = await refused(applicant, new_room)
    assert datetime.fromisoformat(error["data"]["opensAt"]) == tomorrow - timedelta(minutes=30)
    async with app[sessionmaker_key]() as db:
        rooms = {r: await db.get(Room, r) for r in (room, new_room)}
    assert rooms[room].appointment_id == first and rooms[room].state == "closed"
    assert rooms[new_room].appointment_id == second
    again = Member(await open_socket(applicant, room))  # the ended room stays closed
    await again.send(type="join")
    assert (await again.expect("error"))["code"] == "room-closed"
