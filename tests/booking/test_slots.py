"""Slots: availability windows minus claimed cells minus the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.db import sessionmaker_key
from booking.search import free_slots
from booking.slots import Window, covered, free_starts, is_aligned, local_days
from tests.booking.setup_data import bearer, tomorrow_at

T0 = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
HALF = timedelta(minutes=30)


def at(cells: float) -> datetime:
    return T0 + HALF * cells


@pytest.mark.parametrize(
    ("windows", "claimed", "now", "minutes", "expected"),
    [
        # 09:00-11:00 free: 60-minute starts at 09:00, 09:30, 10:00
        ([(0, 4)], [], -10, 60, [0, 1, 2]),
        # 09:30 claimed: nothing that covers it
        ([(0, 4)], [1], -10, 60, [2]),
        ([(0, 4)], [1], -10, 30, [0, 2, 3]),
        # the past is never offered; the current cell neither
        ([(0, 4)], [], 1, 30, [2, 3]),
        ([(0, 4)], [], 0.5, 30, [1, 2, 3]),
        # overlapping windows merge; a gap between windows breaks a long slot
        ([(0, 2), (1, 3)], [], -10, 90, [0]),
        ([(0, 2), (3, 5)], [], -10, 60, [0, 3]),
        # a window not on a cell boundary offers only whole cells inside it
        ([(0.5, 3)], [], -10, 60, [1]),
    ],
)
def test_free_starts(windows, claimed, now, minutes, expected):
    found = free_starts(
        [Window(at(a), at(b)) for a, b in windows],
        {at(c) for c in claimed},
        now=at(now),
        minutes=minutes,
        start=at(-100),
        end=at(100),
    )
    assert found == [at(e) for e in expected]


def test_alignment_and_cover():
    assert is_aligned(T0) and is_aligned(at(1))
    assert not is_aligned(T0 + timedelta(minutes=10))
    assert not is_aligned(T0 + timedelta(seconds=1))
    nepal = T0.astimezone(ZoneInfo("Asia/Kathmandu"))
    assert is_aligned(nepal)  # 06:45 there is 09:00 in Beijing: alignment is absolute
    assert covered([Window(at(0), at(4))], at(2), 60)
    assert not covered([Window(at(0), at(4))], at(3), 60)


async def test_booked_cells_disappear_and_the_past_is_not_offered(app, client, registered):
    mediator = registered["user:mediator"]
    first, last = local_days(tomorrow_at(0).date(), tomorrow_at(0).date())
    async with app[sessionmaker_key]() as db:
        before = await free_slots(db, mediator, start=first, end=last)
        # Seen from 10:00 tomorrow, the morning before 10:30 is the past.
        later = await free_slots(db, mediator, start=first, end=last, now=tomorrow_at(10))
    assert tomorrow_at(9) in before and tomorrow_at(16, 30) in before
    assert min(later) == tomorrow_at(10, 30)

    headers = await bearer(app, registered["user:coordinator"])
    body = {
        "case_id": registered["case"],
        "mediator_id": mediator,
        "starts_at": tomorrow_at(9, 30).isoformat(),
        "minutes": 60,
    }
    assert (await client.post("/api/v1/appointments", json=body, headers=headers)).status == 201

    day = tomorrow_at(0).date().isoformat()
    response = await client.get(
        f"/api/v1/mediators/{mediator}/slots?from={day}&to={day}", headers=headers
    )
    assert response.status == 200
    starts = [s["starts_at"] for s in (await response.json())["slots"]]
    assert all(s.endswith("+08:00") for s in starts)
    # 09:30 and 10:00 are taken: no 60-minute slot may touch them.
    for hour, minute in ((9, 0), (9, 30), (10, 0)):
        assert tomorrow_at(hour, minute).isoformat() not in starts
    assert tomorrow_at(10, 30).isoformat() in starts
    thirty = await client.get(
        f"/api/v1/mediators/{mediator}/slots?from={day}&minutes=30", headers=headers
    )
    assert tomorrow_at(9).isoformat() in [s["starts_at"] for s in (await thirty.json())["slots"]]

    today = await client.get(f"/api/v1/mediators/{mediator}/slots", headers=headers)
    now = datetime.now(UTC)
    assert all(datetime.fromisoformat(s["starts_at"]) > now for s in (await today.json())["slots"])


async def test_slot_search_rejects_bad_ranges(app, client, booking_demo):
    headers = await bearer(app, booking_demo["user:coordinator"])
    base = f"/api/v1/mediators/{booking_demo['user:mediator']}/slots"
    for query, field in (
        ("?from=2026-02-30", "from"),
        ("?from=2030-01-10&to=2030-01-01", "to"),
        ("?from=2030-01-01&to=2030-03-01", "to"),
        ("?minutes=45", "minutes"),
    ):
        response = await client.get(base + query, headers=headers)
        assert response.status == 422, query
        assert field in (await response.json())["fields"]
    expert = f"/api/v1/mediators/{booking_demo['user:expert']}/slots"
    assert (await client.get(expert, headers=headers)).status == 404  # not in the town's subtree
    huge = "/api/v1/mediators/99999999999999999999/slots"
    assert (await client.get(huge, headers=headers)).status == 404
