"""The availability page: a person edits their own weekly rules, exceptions, buffer, daily
maximum and time zone, a coordinator those of their subtree; the slot search follows; bad input
re-shows the form and stores nothing; two saves at once leave one whole set, not both."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key
from booking.models import AvailabilityException, AvailabilityRule, BookingProfile
from booking.search import search
from booking.slots import local_days, local_today
from tests.booking.setup_data import count
from tests.people import login, post_form

EVERY_DAY = {f"day{w}": "09:00-12:00, 14:00-17:30" for w in range(7)}


def _form(**extra: str) -> dict[str, str]:
    return {
        **EVERY_DAY,
        "buffer_minutes": "30",
        "daily_max": "2",
        "timezone": "Asia/Shanghai",
        **extra,
    }


async def test_a_mediator_edits_their_own_and_the_search_follows(app, client, demo):
    mediator = demo["user:mediator"]
    await login(client, "mediator")
    off_day = local_today() + timedelta(days=2)
    path = f"/staff/{mediator}/availability"
    data = _form(exceptions=f"{off_day.isoformat()} off\n{off_day.isoformat()} extra 19:00-20:00")
    response = await post_form(client, path, data, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with app[sessionmaker_key]() as db:
        profile = await db.get(BookingProfile, mediator)
        assert (profile.buffer_minutes, profile.daily_max) == (30, 2)
        start, end = local_days(off_day, off_day)
        found = await search(db, [mediator], start=start, end=end, minutes=60, limit=None)
    # the whole day is off, and "off" wins over the extra hour too
    assert found == []
    page = await (await client.get(path)).text()
    assert f"{off_day.isoformat()} off" in page and "09:00-12:00, 14:00-17:30" in page


async def test_who_may_edit_whom(app, client, demo):
    await login(client, "mediator")
    other = f"/staff/{demo['user:mediator2']}/availability"
    assert (await client.get(other)).status == 404
    await login(client, "coordinator")  # the town: mediator2's village is below it
    assert (await client.get(other)).status == 200
    response = await post_form(client, other, _form(), allow_redirects=False)
    assert response.status == 303
    assert (
        await count(app, AvailabilityRule, AvailabilityRule.staff_id == demo["user:mediator2"])
        == 14
    )


async def test_bad_input_reshows_the_form_and_stores_nothing(app, client, demo):
    mediator = demo["user:mediator"]
    await login(client, "mediator")
    bad = _form(
        day0="9-12",
        day3="12:00-09:00",
        exceptions="2026-02-30 off",
        buffer_minutes="500",
        daily_max="0",
        timezone="Mars/Olympus",
    )
    response = await post_form(client, f"/staff/{mediator}/availability", bad)
    assert response.status == 422
    html = await response.text()
    for name in ("day0", "day3", "exceptions", "buffer_minutes", "daily_max", "timezone"):
        assert f'id="{name}-error"' in html, name
    assert 'value="9-12"' in html
    assert await count(app, AvailabilityRule) == 0 and await count(app, BookingProfile) == 0


async def test_two_saves_at_once_leave_one_whole_set(app, client, new_client, demo):
    mediator = demo["user:mediator"]
    path = f"/staff/{mediator}/availability"
    clients = [client, await new_client()]
    for each in clients:
        await login(each, "mediator")
    day = (local_today() + timedelta(days=3)).isoformat()
    forms = [
        _form(exceptions=f"{day} off"),
        {**_form(), **{f"day{w}": "08:00-09:00" for w in range(7)}},
    ]
    pairs = zip(clients, forms, strict=True)
    statuses = await asyncio.gather(
        *(post_form(each, path, form, allow_redirects=False) for each, form in pairs)
    )
    assert [s.status for s in statuses] == [303, 303]
    async with app[sessionmaker_key]() as db:
        rules = (await db.execute(select(AvailabilityRule.start_minute))).scalars().all()
        exceptions = await count(app, AvailabilityException)
    assert sorted(set(rules)) in ([540, 840], [480]), rules
    assert (len(rules), exceptions) in ((14, 1), (7, 0)), (len(rules), exceptions)
