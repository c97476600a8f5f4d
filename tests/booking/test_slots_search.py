"""The set-based slot search: masks, weekly rules, exceptions, buffers, daily maximum, time zones,
panels, a fixed number of statements whatever the number of people, and the /api/v1/slots API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from app.db import engine_key, sessionmaker_key, transaction
from app.models import StaffUser
from booking.models import AvailabilityException, AvailabilityRule, BookingProfile
from booking.search import search, why_not
from booking.slots import bit_positions, runs, span_mask
from tests.booking.setup_data import bearer, tomorrow_at

MONDAY = date(2030, 3, 4)
NOW = datetime(2030, 3, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


@pytest.mark.parametrize(
    ("mask", "length", "expected"),
    [
        (0b1111, 1, [0, 1, 2, 3]),
        (0b1111, 2, [0, 1, 2]),
        (0b1111, 4, [0]),
        (0b1111, 5, []),
        (0b11011, 2, [0, 3]),
        (0b1111111, 3, [0, 1, 2, 3, 4]),
        (0b1110111, 3, [0, 4]),
    ],
)
def test_runs_of_free_cells(mask, length, expected):
    assert list(bit_positions(runs(mask, length))) == expected


def test_span_mask_clips_to_the_range():
    assert span_mask(10, 14, 10, 8) == 0b1111
    assert span_mask(8, 12, 10, 8) == 0b11
    assert span_mask(16, 30, 10, 8) == 0b11000000
    assert span_mask(20, 30, 10, 8) == 0


async def _people(app, count: int, org_id: int) -> list[int]:
    """`count` mediators of one organisation, each free Monday to Friday 09:00–12:00."""
    async with transaction(app) as db:
        people = [
            StaffUser(
                org_id=org_id,
                username=f"m{org_id}-{i}",
                display_name=f"调解员{i}",
                role="mediator",
                password_hash="x",
            )
            for i in range(count)
        ]
        db.add_all(people)
        await db.flush()
        db.add_all(
            AvailabilityRule(staff_id=p.id, weekday=w, start_minute=540, end_minute=720)
            for p in people
            for w in range(5)
        )
    return [p.id for p in people]


class Statements:
    def __init__(self, app) -> None:
        self.count = 0
        self._engine = app[engine_key].sync_engine

    def _seen(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> Statements:
        event.listen(self._engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def test_weekly_rules_exceptions_buffer_and_daily_maximum(app, client, demo):
    (first, second) = await _people(app, 2, demo["org:town"])
    async with transaction(app) as db:
        db.add(AvailabilityException(staff_id=first, day=MONDAY, kind="off"))  # on leave
        db.add(
            AvailabilityException(
                staff_id=first,
                day=MONDAY + timedelta(days=5),
                kind="extra",
                start_minute=600,
                end_minute=660,
            )
        )  # a Saturday morning hour
        db.add(BookingProfile(staff_id=second, buffer_minutes=30, daily_max=1))
    start, end = local(MONDAY, 0), local(MONDAY + timedelta(days=7), 0)
    async with app[sessionmaker_key]() as db:
        mine = await search(db, [first], start=start, end=end, minutes=60, limit=None, now=NOW)
    days = {slot.starts_at.astimezone(SHANGHAI).date() for slot in mine}
    assert MONDAY not in days and MONDAY + timedelta(days=1) in days
    assert local(MONDAY + timedelta(days=5), 10) in [slot.starts_at for slot in mine]
    assert local(MONDAY + timedelta(days=5), 10, 30) not in [slot.starts_at for slot in mine]
    assert len(mine) == 4 * 5 + 1  # 09:00–11:00 starts on four weekdays, one on Saturday

    async with app[sessionmaker_key]() as db:
        assert await why_not(db, [first], local(MONDAY, 9), 60, now=NOW) == "unavailable"
        assert await why_not(db, [second], local(MONDAY, 9), 60, now=NOW) is None
        assert await why_not(db, [second], local(MONDAY, 9), 60, now=local(MONDAY, 9)) == "past"


async def test_a_person_abroad_has_rules_in_their_own_zone(app, client, demo):
    (person,) = await _people(app, 1, demo["org:town"])
    async with transaction(app) as db:
        db.add(BookingProfile(staff_id=person, timezone="Europe/Berlin"))
    start, end = local(MONDAY, 0), local(MONDAY + timedelta(days=1), 0)
    async with app[sessionmaker_key]() as db:
        found = await search(db, [person], start=start, end=end, minutes=30, limit=1, now=NOW)
    berlin = ZoneInfo("Europe/Berlin")
    assert found[0].starts_at == local(MONDAY, 9, zone=berlin)  # 16:00 in Beijing


async def test_any_of_many_people_in_a_fixed_number_of_statements(app, client, demo):
    few = await _people(app, 3, demo["org:town"])
    start, end = local(MONDAY, 0), local(MONDAY + timedelta(days=30), 0)
    with Statements(app) as counted:
        async with app[sessionmaker_key]() as db:
            found = await search(db, few, start=start, end=end, minutes=60, limit=5, now=NOW)
    statements_for_three = counted.count
    expected = [(few[0],), (few[1],), (few[2],), (few[0],), (few[1],)]
    assert [slot.staff_ids for slot in found] == expected
    assert found[0].starts_at == found[2].starts_at == local(MONDAY, 9)

    many = few + await _people(app, 60, demo["org:village"])
    with Statements(app) as counted:
        async with app[sessionmaker_key]() as db:
            found = await search(db, many, start=start, end=end, minutes=60, limit=100, now=NOW)
    # Profiles, then rules, exceptions, windows and claims as one UNION ALL (was 5 on SQLite).
    assert counted.count == statements_for_three == 2
    assert len(found) == 100 and all(s.starts_at == local(MONDAY, 9) for s in found[:63])


async def test_a_panel_is_free_only_when_all_are(app, client, demo):
    mediator, expert = await _people(app, 2, demo["org:town"])
    async with transaction(app) as db:
        db.add(AvailabilityException(staff_id=expert, day=MONDAY, kind="off", end_minute=600))
    start, end = local(MONDAY, 0), local(MONDAY + timedelta(days=1), 0)
    async with app[sessionmaker_key]() as db:
        both = await search(
            db, [mediator, expert], start=start, end=end, minutes=60, together=True, now=NOW
        )
    assert [s.starts_at for s in both] == [
        local(MONDAY, 10),
        local(MONDAY, 10, 30),
        local(MONDAY, 11),
    ]
    assert all(s.staff_ids == (mediator, expert) for s in both)


async def test_slots_api_any_panel_local_time_and_bad_input(app, client, booking_demo):
    headers = await bearer(app, booking_demo["user:coordinator"])
    day = tomorrow_at(0).date().isoformat()
    mediator, expert = booking_demo["user:mediator"], booking_demo["user:mediator2"]
    response = await client.get(
        f"/api/v1/slots?from={day}&minutes=60&limit=3&tz=Europe/London", headers=headers
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    # the town's two mediators (the village's one is below it) at 09:00, then 09:30
    assert [s["starts_at"] for s in body["slots"]] == [
        tomorrow_at(9).isoformat(),
        tomorrow_at(9).isoformat(),
        tomorrow_at(9, 30).isoformat(),
    ]
    assert body["slots"][0]["local_starts_at"].startswith(f"{day}T01:00")
    assert {s["staff_ids"][0] for s in body["slots"][:2]} == {mediator, expert}

    panel = await client.get(
        f"/api/v1/slots?from={day}&staff={mediator},{expert}&together=true&limit=50",
        headers=headers,
    )
    slots = (await panel.json())["slots"]
    assert slots[0]["staff_ids"] == sorted([mediator, expert]) and len(slots) == 5 + 6

    for query, field in (
        ("minutes=45", "minutes"),
        ("from=2026-02-30", "from"),
        ("staff=1,x", "staff"),
        ("together=1", "staff"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
        ("limit=0", "limit"),
        (f"from={day}&to=2099-01-01", "to"),
    ):
        bad = await client.get(f"/api/v1/slots?{query}", headers=headers)
        assert bad.status == 422, query
        fields = (await bad.json())["fields"]
        assert field in fields and fields[field]["zh_CN"] != fields[field]["en"], query
    outside = await client.get(
        f"/api/v1/slots?staff={booking_demo['user:expert']}", headers=headers
    )
    assert outside.status == 404  # the district's expert is above the town coordinator
