"""The staff calendar: a mediator's and a panel expert's own appointments by day and week, in the
same statements for one appointment as for many; bad input is a 422 in two languages."""

from __future__ import annotations

from datetime import timedelta

from booking.slots import local_today
from tests.booking.setup_data import bearer, tomorrow_at
from tests.booking.test_desk import statements
from tests.people import login

URL = "/api/v1/appointments"


async def _book(client, headers, ids, hour: int, **extra) -> None:
    body = {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": tomorrow_at(hour).isoformat(),
        "minutes": 60,
        **extra,
    }
    response = await client.post(URL, json=body, headers=headers)
    assert response.status == 201, await response.text()


async def test_own_appointments_by_day_and_week_in_fixed_statements(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    await _book(client, headers, registered, 9, expert_ids=[registered["user:mediator2"]])
    await login(client, "mediator")
    page = f"/calendar?view=day&day={tomorrow}"
    with statements(app) as seen:
        html = await (await client.get(page)).text()
    one = len(seen)
    assert html.count('class="appointment ') == 1
    await _book(client, headers, registered, 14)
    await _book(client, headers, registered, 16)
    with statements(app) as seen:
        html = await (await client.get(page)).text()
    assert html.count('class="appointment ') == 3 and len(seen) == one
    week = await (await client.get(f"/calendar?view=week&day={tomorrow}")).text()
    assert week.count('class="appointment ') == 3 and week.count('class="calendar-day"') == 7

    await login(client, "mediator2")  # a panel's expert member here
    html = await (await client.get(page)).text()
    assert html.count('class="appointment ') == 1 and "专家会诊" in html


async def test_bad_input_and_other_roles(app, client, registered):
    await login(client, "mediator")
    response = await client.get("/calendar?view=month&day=2026-13-01")
    assert response.status == 422
    await login(client, "coordinator")
    assert (await client.get("/calendar")).status == 403
