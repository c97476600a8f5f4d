"""A case's status follows its appointments even when a cancellation and a new booking of the
same case race (both databases): scheduled exactly when a booked appointment exists."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Case
from booking.models import Appointment
from tests.booking.setup_data import bearer, tomorrow_at
from tests.people import csrf, login

URL = "/api/v1/appointments"


async def test_cancel_racing_a_new_booking_leaves_a_consistent_case(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    await login(client, "coordinator")
    token = await csrf(client)
    case_id = registered["case"]
    hours = [9, 10, 11, 14, 15, 16]
    first = await client.post(
        URL,
        json={
            "case_id": case_id,
            "mediator_id": registered["user:mediator"],
            "starts_at": tomorrow_at(hours[0]).isoformat(),
            "minutes": 30,
        },
        headers=headers,
    )
    assert first.status == 201
    current = (await first.json())["id"]
    for hour in hours[1:]:
        cancel, book = await asyncio.gather(
            client.post(
                f"/cases/{case_id}/appointments/{current}/cancel",
                data={"_csrf": token},
                allow_redirects=False,
            ),
            client.post(
                URL,
                json={
                    "case_id": case_id,
                    "mediator_id": registered["user:mediator"],
                    "starts_at": tomorrow_at(hour).isoformat(),
                    "minutes": 30,
                },
                headers=headers,
            ),
        )
        assert (cancel.status, book.status) == (303, 201)
        current = (await book.json())["id"]
        async with app[sessionmaker_key]() as db:
            case = await db.get(Case, case_id)
            booked = list(
                await db.scalars(
                    select(Appointment.id).where(
                        Appointment.case_id == case_id, Appointment.status == "booked"
                    )
                )
            )
        assert booked == [current]
        assert case is not None and case.status == "scheduled", (hour, case and case.status)


async def test_concurrent_bookings_of_one_case_all_land_and_the_timeline_says_from_what(
    app, client, registered
):
    """Each booking moves the case from the status its check read; one that finds the case
    moved meanwhile by another booking locks it, re-reads it and moves from there."""
    from app.models import CaseEvent

    headers = await bearer(app, registered["user:coordinator"])
    hours = [9, 10, 11, 14, 15, 16]
    responses = await asyncio.gather(
        *(
            client.post(
                URL,
                json={
                    "case_id": registered["case"],
                    "mediator_id": registered["user:mediator"],
                    "starts_at": tomorrow_at(hour).isoformat(),
                    "minutes": 30,
                },
                headers=headers,
            )
            for hour in hours
        )
    )
    assert [r.status for r in responses] == [201] * len(hours)
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, registered["case"])
        booked = list(
            await db.scalars(
                select(CaseEvent.data).where(
                    CaseEvent.case_id == registered["case"], CaseEvent.kind == "booked"
                )
            )
        )
    assert case is not None and case.status == "scheduled"
    assert sorted(data["from"] for data in booked) == ["registered"] + ["scheduled"] * 5
