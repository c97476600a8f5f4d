"""The booking engine: 200 concurrent requests for one slot, a handful of statements per booking,
reschedule (atomic), cancel (staff or party within the notice period), no-show, panels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import event, select, update

from app.db import engine_key, sessionmaker_key, transaction
from app.models import CaseStaff
from booking.models import Appointment, AppointmentMember, SlotClaim
from tests.booking.setup_data import bearer, count, tomorrow_at, within_a_day
from tests.people import open_party_session, post_form
from tests.pool_watch import pool_use

URL = "/api/v1/appointments"


def body(ids: dict[str, int], hour: int, minute: int = 0, **extra: object) -> dict:
    return {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": tomorrow_at(hour, minute).isoformat(),
        "minutes": 60,
        **extra,
    }


async def claims_of(app, appointment_id: int) -> list:
    async with app[sessionmaker_key]() as db:
        return list(
            await db.scalars(
                select(SlotClaim.cell_start)
                .where(SlotClaim.appointment_id == appointment_id)
                .order_by(SlotClaim.cell_start)
            )
        )


async def test_two_hundred_concurrent_requests_for_one_slot_one_wins(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    wanted = body(registered, 10)

    async def attempt(i: int) -> int:
        key = {"Idempotency-Key": f"race-{i}"}
        response = await client.post(URL, json=wanted, headers={**headers, **key})
        await response.read()
        return response.status

    statuses = await asyncio.gather(*(attempt(i) for i in range(200)))
    # Exactly one wins. On a loaded machine PostgreSQL's connection pool (10) may make a few
    # wait past their timeout: a 503 that wrote nothing, never a second booking.
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409, 503}, statuses
    assert statuses.count(409) >= 150, statuses
    assert await count(app, Appointment) == 1 and await count(app, SlotClaim) == 2


async def test_a_booking_runs_a_handful_of_statements(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    assert (await client.post(URL, json=body(registered, 9), headers=headers)).status == 201
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = app[engine_key].sync_engine
    postgresql = engine.dialect.name == "postgresql"
    keyed = {**headers, "Idempotency-Key": "counted"}
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await client.post(URL, json=body(registered, 14), headers=keyed)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status == 201
    # Was 25 (every staff row loaded), then 20, then 15 (17 with an Idempotency-Key). Now, with
    # the key: the token's staff member (1); the case with the office's right to see it (1);
    # the members with their booking profiles (1); the slot check (rules, exceptions, windows,
    # claims: one UNION ALL, SQLite too); the case's move to "scheduled", its first
    # write, which locks the row (1); the appointment, its cells, its members and the day
    # counters (PostgreSQL: one statement of data-modifying CTEs; SQLite: 4); the timeline's
    # hash chain under the lock already held (app/audit.py: 2); the notice and its reminders in
    # one INSERT (1); the idempotency record (1, and no lookup first). The SMS, links and emails
    # are the outbox job's work.
    expected = 10 if postgresql else 13
    assert len(seen) == expected, f"{len(seen)} statements:\n" + "\n@@ ".join(seen)
    assert not any("FOR UPDATE" in s or "SET id=cases.id" in s for s in seen)
    assert not any("party_links" in s for s in seen)
    assert sum("idempotency_records" in s for s in seen) == 1
    if postgresql:
        (placed,) = [s for s in seen if "INSERT INTO appointments" in s]
        assert all(f"INSERT INTO {table}" in placed for table in ("slot_claims", "staff_days"))
        assert "INSERT INTO appointment_members" in placed


async def test_a_booking_holds_one_pool_connection_at_a_time(app, client, registered):
    """The token's lookup and the booking's transaction (with its idempotency record) each
    have the pool to themselves: a request that held one connection while it waited for a
    second could, 200 at once, take the whole pool and wait for ever."""
    headers = {**await bearer(app, registered["user:coordinator"]), "Idempotency-Key": "once"}
    with pool_use(app) as use:
        booked = await client.post(URL, json=body(registered, 9), headers=headers)
        assert booked.status == 201, await booked.text()
        replayed = await client.post(URL, json=body(registered, 9), headers=headers)
        assert replayed.status == 201 and replayed.headers.get("Idempotent-Replayed") == "true"
    assert use.most == 1
    assert (
        use.checkouts <= 2 + 3
    )  # the first: token, transaction; the retry: token, its try, lookup


async def test_a_retry_after_the_slot_was_freed_books_nothing_new(app, client, registered):
    """The booking's key is not looked up first: a retry runs the booking again, which the
    stored key must roll back even when the slot has become free meanwhile."""
    headers = {**await bearer(app, registered["user:coordinator"]), "Idempotency-Key": "again"}
    first = await client.post(URL, json=body(registered, 10), headers=headers)
    assert first.status == 201
    booked = await first.json()
    plain = {"Authorization": headers["Authorization"]}
    assert (await client.post(f"{URL}/{booked['id']}/cancel", headers=plain)).status == 200
    retry = await client.post(URL, json=body(registered, 10), headers=headers)
    assert retry.status == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert await retry.json() == booked
    assert await count(app, Appointment) == 1
    assert await claims_of(app, booked["id"]) == []


async def test_reschedule_moves_all_cells_and_a_failed_one_changes_nothing(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    first = await (await client.post(URL, json=body(registered, 9), headers=headers)).json()
    second = await (await client.post(URL, json=body(registered, 14), headers=headers)).json()

    moved = await client.post(
        f"{URL}/{first['id']}/reschedule",
        json={"starts_at": tomorrow_at(10, 30).isoformat()},
        headers=headers,
    )
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["sequence"] == 1
    assert await claims_of(app, first["id"]) == [tomorrow_at(10, 30), tomorrow_at(11)]

    # Onto the other appointment's time: refused, and the first one keeps its cells.
    clash = await client.post(
        f"{URL}/{first['id']}/reschedule",
        json={"starts_at": tomorrow_at(14, 30).isoformat()},
        headers=headers,
    )
    assert clash.status == 409
    assert await claims_of(app, first["id"]) == [tomorrow_at(10, 30), tomorrow_at(11)]
    async with app[sessionmaker_key]() as db:
        kept = await db.get(Appointment, first["id"])
    assert kept is not None and kept.starts_at == tomorrow_at(10, 30) and kept.sequence == 1

    # Overlapping itself is fine: its own cells do not stand in its way.
    shift = await client.post(
        f"{URL}/{first['id']}/reschedule",
        json={"starts_at": tomorrow_at(11).isoformat()},
        headers=headers,
    )
    assert shift.status == 200
    for starts, field in ((tomorrow_at(12), "starts_at"), (tomorrow_at(9, 10), "starts_at")):
        bad = await client.post(
            f"{URL}/{second['id']}/reschedule",
            json={"starts_at": starts.isoformat()},
            headers=headers,
        )
        assert bad.status == 422 and field in (await bad.json())["fields"]


async def test_cancel_and_no_show(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    booked = await (await client.post(URL, json=body(registered, 9), headers=headers)).json()
    early = await client.post(f"{URL}/{booked['id']}/no-show", headers=headers)
    assert early.status == 409  # not begun yet
    async with transaction(app) as db:  # the appointment is now in the past
        await db.execute(
            update(Appointment)
            .where(Appointment.id == booked["id"])
            .values(starts_at=tomorrow_at(9) - timedelta(days=2))
        )
    missed = await client.post(f"{URL}/{booked['id']}/no-show", headers=headers)
    assert missed.status == 200 and (await missed.json())["status"] == "no_show"
    assert await count(app, SlotClaim) == 2  # the time was held

    other = await (await client.post(URL, json=body(registered, 15), headers=headers)).json()
    cancelled = await client.post(f"{URL}/{other['id']}/cancel", headers=headers)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    assert (await client.post(f"{URL}/{other['id']}/cancel", headers=headers)).status == 409
    assert await claims_of(app, other["id"]) == []


async def test_a_party_cancels_from_their_link_within_the_notice_period(
    app, client, new_client, registered
):
    headers = await bearer(app, registered["user:coordinator"])
    soon = await (
        await client.post(
            URL,
            json={**body(registered, 9), "starts_at": within_a_day().isoformat()},
            headers=headers,
        )
    ).json()
    later_start = tomorrow_at(9) + timedelta(days=3)
    later = await (
        await client.post(
            URL, json={**body(registered, 9), "starts_at": later_start.isoformat()}, headers=headers
        )
    ).json()
    party = await new_client()
    await open_party_session(party, app, registered["case"])
    case = registered["case"]
    page = await (await party.get(f"/cases/{case}")).text()
    assert "data-countdown" in page and f"/appointments/{later['id']}/reschedule" in page
    ics = await party.get(f"/cases/{case}/appointments/{later['id']}/calendar.ics")
    assert ics.status == 200 and ics.content_type == "text/calendar"
    event = Calendar.from_ical(await ics.read()).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == later_start and int(event["SEQUENCE"]) == 0
    # Inside the 24-hour notice: the party must call the centre.
    too_late = await post_form(party, f"/cases/{case}/appointments/{soon['id']}/cancel", {})
    assert too_late.status == 403
    moved = await post_form(
        party,
        f"/cases/{case}/appointments/{later['id']}/reschedule",
        {"date": (later_start + timedelta(days=1)).date().isoformat(), "time": "10:00"},
        allow_redirects=False,
    )
    assert moved.status == 303
    done = await post_form(
        party, f"/cases/{case}/appointments/{later['id']}/cancel", {}, allow_redirects=False
    )
    assert done.status == 303
    async with app[sessionmaker_key]() as db:
        statuses = dict((await db.execute(select(Appointment.id, Appointment.status))).all())
    assert statuses == {soon["id"]: "booked", later["id"]: "cancelled"}


async def test_a_panel_is_claimed_all_or_none_and_its_experts_join_the_team(
    app, client, registered
):
    headers = await bearer(app, registered["user:coordinator"])
    expert = registered["user:mediator2"]
    # The expert is busy at 10:00 with another mediator's case: a panel at 10:00 fails whole.
    alone = body(registered, 10, mediator_id=expert)
    assert (await client.post(URL, json=alone, headers=headers)).status == 201
    clash = await client.post(URL, json=body(registered, 10, expert_ids=[expert]), headers=headers)
    assert clash.status == 409
    assert await count(app, SlotClaim) == 2

    panel = await client.post(URL, json=body(registered, 14, expert_ids=[expert]), headers=headers)
    assert panel.status == 201, await panel.text()
    booked = await panel.json()
    assert [e["id"] for e in booked["experts"]] == [expert]
    async with app[sessionmaker_key]() as db:
        members = set(
            await db.scalars(
                select(AppointmentMember.staff_id).where(
                    AppointmentMember.appointment_id == booked["id"]
                )
            )
        )
        team = set(await db.scalars(select(CaseStaff.staff_id)))
    assert members == {registered["user:mediator"], expert} and expert in team
    assert await count(app, SlotClaim, SlotClaim.appointment_id == booked["id"]) == 4

    moved = await client.post(
        f"{URL}/{booked['id']}/reschedule",
        json={"starts_at": tomorrow_at(15, 30).isoformat()},
        headers=headers,
    )
    assert moved.status == 200 and [e["id"] for e in (await moved.json())["experts"]] == [expert]
    assert await count(app, SlotClaim, SlotClaim.staff_id == expert) == 4
