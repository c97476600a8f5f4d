"""Registration (受理) under concurrency, on both databases: numbers are unique and gap-free per
organisation and year, and one application is registered once however many coordinators try."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.models import Case, CaseEvent
from tests.builders import applications
from tests.people import csrf, login

FORM = {"risk": "blue", "complexity": "general", "tier": "town"}


async def test_concurrent_registrations_get_unique_gap_free_numbers(app, client, demo) -> None:
    case_ids = [demo["case"], *await applications(app, demo["org:town"], 23)]
    await login(client, "coordinator")
    token = await csrf(client)

    async def register(case_id: int) -> int:
        response = await client.post(
            f"/cases/{case_id}/register", data={**FORM, "_csrf": token}, allow_redirects=False
        )
        return response.status

    statuses = []
    for batch in range(0, len(case_ids), 8):  # eight coordinators' clicks at a time
        statuses += await asyncio.gather(*(register(c) for c in case_ids[batch : batch + 8]))
    assert statuses == [303] * 24

    async with app[sessionmaker_key]() as db:
        rows = (await db.execute(select(Case.seq, Case.number, Case.status))).all()
    assert sorted(seq for seq, _n, _s in rows) == list(range(1, 25))
    assert len({number for _s, number, _st in rows}) == 24
    assert all(re.fullmatch(r"（\d{4}）吴松矛调字第\d{4}号", n) for _s, n, _st in rows)
    assert {status for *_x, status in rows} == {"registered"}


async def test_one_application_registered_once_by_racing_coordinators(app, client, demo) -> None:
    await login(client, "coordinator")
    token = await csrf(client)
    responses = await asyncio.gather(
        *(
            client.post(
                f"/cases/{demo['case']}/register",
                data={**FORM, "_csrf": token},
                allow_redirects=False,
            )
            for _ in range(6)
        )
    )
    assert sorted(r.status for r in responses) == [303] + [409] * 5
    async with app[sessionmaker_key]() as db:
        events = await db.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "registered")
        )
        case = await db.get(Case, demo["case"])
    assert events == 1
    assert case is not None and case.seq == 1


async def test_numbers_continue_after_existing_ones_per_org_and_year(app, client, demo) -> None:
    village = await applications(app, demo["org:village"], 1)
    await login(client, "coordinator")
    token = await csrf(client)
    for case_id in (demo["case"], *village):
        response = await client.post(
            f"/cases/{case_id}/register", data={**FORM, "_csrf": token}, allow_redirects=False
        )
        assert response.status == 303
    async with app[sessionmaker_key]() as db:
        numbers = dict((await db.execute(select(Case.id, Case.number))).all())
    assert numbers[demo["case"]].endswith("吴松矛调字第0001号")
    assert numbers[village[0]].endswith("吴联矛调字第0001号")  # its own organisation's count
