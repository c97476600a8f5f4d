"""The daily maximum under concurrency: concurrent bookings of different times on one day never
take more than the person's maximum, on both databases; cancelling gives the place back and a
move to another day moves it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from alembic import command
from sqlalchemy import select

from app.db import engine_key, sessionmaker_key, transaction
from app.migrate import alembic_config, upgrade
from booking.models import Appointment, BookingProfile, StaffDay
from tests.booking.setup_data import bearer, count, tomorrow_at

URL = "/api/v1/appointments"


async def set_daily_max(app, staff_id: int, most: int) -> None:
    async with transaction(app) as db:
        db.add(BookingProfile(staff_id=staff_id, daily_max=most))


def body(ids: dict[str, int], hour: int, days: int = 0) -> dict:
    return {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": (tomorrow_at(hour) + timedelta(days=days)).isoformat(),
        "minutes": 60,
    }


async def day_counts(app) -> list[int]:
    async with app[sessionmaker_key]() as db:
        return list(await db.scalars(select(StaffDay.booked).order_by(StaffDay.day)))


async def test_concurrent_bookings_never_pass_the_daily_maximum(app, client, registered):
    await set_daily_max(app, registered["user:mediator"], 2)
    headers = await bearer(app, registered["user:coordinator"])

    async def attempt(hour: int) -> int:
        response = await client.post(URL, json=body(registered, hour), headers=headers)
        await response.read()
        return response.status

    statuses = await asyncio.gather(*(attempt(hour) for hour in range(9, 17)))
    # Late arrivals see the full day in the check (422); racers lose on the counter (409).
    assert statuses.count(201) == 2 and set(statuses) <= {201, 409, 422, 503}, statuses
    assert await count(app, Appointment) == 2
    assert await day_counts(app) == [2]


async def test_cancel_gives_the_place_back_and_a_move_takes_it_along(app, client, registered):
    await set_daily_max(app, registered["user:mediator"], 1)
    headers = await bearer(app, registered["user:coordinator"])
    first = await (await client.post(URL, json=body(registered, 9), headers=headers)).json()
    full = await client.post(URL, json=body(registered, 11), headers=headers)
    assert full.status == 422 and "starts_at" in (await full.json())["fields"]

    moved = await client.post(
        f"{URL}/{first['id']}/reschedule",
        json={"starts_at": (tomorrow_at(9) + timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert moved.status == 200, await moved.text()
    assert await day_counts(app) == [0, 1]
    again = await client.post(URL, json=body(registered, 11), headers=headers)
    assert again.status == 201, await again.text()
    assert (await client.post(f"{URL}/{first['id']}/cancel", headers=headers)).status == 200
    assert await day_counts(app) == [1, 0]
    later = await client.post(URL, json=body(registered, 10, days=1), headers=headers)
    assert later.status == 201
    assert await day_counts(app) == [1, 1]


async def test_migration_0010_counts_the_appointments_already_booked(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    for hour, days in ((9, 0), (11, 0), (9, 1)):
        response = await client.post(URL, json=body(registered, hour, days), headers=headers)
        assert response.status == 201
    before = await day_counts(app)
    assert before == [2, 1]

    def down(connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")

    async with app[engine_key].begin() as connection:
        await connection.run_sync(down)
    await upgrade(app[engine_key])
    assert await day_counts(app) == before


async def test_a_panels_day_counters_are_raised_together_or_not_at_all(app, registered):
    """One upsert for the whole panel's day: when one member's day is full, nobody's counter
    moves; when all have room, each rises by one."""
    import pytest

    from app.errors import Conflict
    from booking import day_load

    mediator, expert = registered["user:mediator"], registered["user:expert"]
    day = (tomorrow_at(9) + timedelta(days=2)).date()
    await set_daily_max(app, expert, 1)
    async with transaction(app) as db:
        db.add(StaffDay(staff_id=expert, day=day, booked=1))
    with pytest.raises(Conflict):
        async with transaction(app) as db:
            await day_load.take(db, {day: [mediator, expert]})
    assert await day_counts(app) == [1]
    async with transaction(app) as db:
        await day_load.take(db, {day: [mediator]})
        await day_load.take(db, {day + timedelta(days=1): [mediator, expert]})
    async with app[sessionmaker_key]() as db:
        rows = await db.execute(select(StaffDay.staff_id, StaffDay.day, StaffDay.booked))
        counters = {(staff_id, on): booked for staff_id, on, booked in rows}
    assert counters == {
        (expert, day): 1,
        (mediator, day): 1,
        (mediator, day + timedelta(days=1)): 1,
        (expert, day + timedelta(days=1)): 1,
    }
