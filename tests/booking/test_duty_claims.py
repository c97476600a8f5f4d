"""A duty session (预约门诊) holds its person's time like an appointment: a mediation booking
cannot overlap it, a session cannot be put over an appointment, the slot search skips it, and
when both race for the same hour exactly one wins."""

from __future__ import annotations

import asyncio

from booking.models import Appointment, DutySession, SlotClaim
from tests.booking.setup_data import bearer, count, tomorrow_at

SESSIONS = "/api/v1/clinic/sessions"
APPOINTMENTS = "/api/v1/appointments"


def _session(staff_id: int, hour: int) -> dict:
    return {
        "staff_id": staff_id,
        "kind": "lawyer",
        "starts_at": tomorrow_at(hour).isoformat(),
        "capacity": 4,
        "place_minutes": 30,  # 09:00–11:00
    }


def _booking(ids: dict[str, int], hour: int) -> dict:
    return {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": tomorrow_at(hour).isoformat(),
        "minutes": 60,
    }


async def test_a_duty_session_and_a_mediation_booking_never_overlap(app, client, registered):
    admin = await bearer(app, registered["user:admin"])
    coordinator = await bearer(app, registered["user:coordinator"])
    mediator = registered["user:mediator"]
    created = await client.post(SESSIONS, json=_session(mediator, 9), headers=admin)
    assert created.status == 201, await created.text()
    assert await count(app, SlotClaim) == 4

    over = await client.post(APPOINTMENTS, json=_booking(registered, 10), headers=coordinator)
    assert over.status in (409, 422) and await count(app, Appointment) == 0, await over.text()
    day = tomorrow_at(0).date().isoformat()
    slots = await client.get(
        f"/api/v1/mediators/{mediator}/slots?from={day}&to={day}&minutes=60", headers=coordinator
    )
    assert slots.status == 200, await slots.text()
    starts = [s["starts_at"] for s in (await slots.json())["slots"]]
    assert starts and tomorrow_at(11).isoformat() in starts
    assert not {tomorrow_at(h, m).isoformat() for h in (8, 9, 10) for m in (0, 30)} & set(starts)

    after = await client.post(APPOINTMENTS, json=_booking(registered, 14), headers=coordinator)
    assert after.status == 201, await after.text()
    on_top = await client.post(SESSIONS, json=_session(mediator, 14), headers=admin)
    assert on_top.status == 409 and "duty session" in (await on_top.json())["messages"]["en"]
    assert await count(app, DutySession) == 1


async def test_a_session_and_bookings_racing_for_one_hour_one_wins(app, client, registered):
    admin = await bearer(app, registered["user:admin"])
    coordinator = await bearer(app, registered["user:coordinator"])
    requests = [
        client.post(SESSIONS, json=_session(registered["user:mediator"], 9), headers=admin)
        for _ in range(8)
    ]
    requests += [
        client.post(APPOINTMENTS, json=_booking(registered, 9), headers=coordinator)
        for _ in range(8)
    ]
    answers = await asyncio.gather(*requests)
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    assert await count(app, DutySession) + await count(app, Appointment) == 1
