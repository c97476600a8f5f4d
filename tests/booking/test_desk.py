"""The desks: the dashboard's order, filters, counts and pages in a fixed number of statements,
scoped to the viewer's subtree; "my cases"; the alarm inbox and acknowledging once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, update

from app.alarms import raise_alarm
from app.db import engine_key, transaction, utcnow
from app.models import Alarm, Case
from app.settings import settings_key
from booking.triage import Registration, do_register
from tests.booking.desk_data import Api, add_staff, alarms, registered_case, who
from tests.builders import applications
from tests.people import login, post_form

ROW = re.compile(r'<tr class="risk-(\w+)( overdue)?" data-case="(\d+)">')


async def _cases(app, demo, risks: list[str]) -> list[int]:
    """Registered town cases with these colours; their ids."""
    ids = await applications(app, demo["org:town"], n=len(risks))
    async with transaction(app) as db:
        for case_id, risk in zip(ids, risks, strict=True):
            case = await db.get(Case, case_id)
            assert case is not None
            await do_register(
                db,
                app[settings_key],
                who(demo, "coordinator"),
                case,
                Registration(risk, "general", "town"),
            )
    return ids


async def _set_deadline(app, case_id: int, hours: float) -> None:
    async with transaction(app) as db:
        await db.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(deadline_at=utcnow() + timedelta(hours=hours))
        )


@contextmanager
def statements(app) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = app[engine_key].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_overdue_first_then_red_first_then_by_deadline(app, client, demo) -> None:
    blue_late, red, yellow, blue = await _cases(app, demo, ["blue", "red", "yellow", "blue"])
    await _set_deadline(app, blue_late, -2)
    await _set_deadline(app, blue, 1)
    await login(client, "coordinator")
    page = await (await client.get("/desk")).text()
    rows = [(m.group(1), bool(m.group(2)), int(m.group(3))) for m in ROW.finditer(page)]
    assert [case_id for _risk, _late, case_id in rows] == [blue_late, red, yellow, blue]
    assert rows[0][1] is True and not any(late for _r, late, _c in rows[1:])
    # Counts per state (the demo application is not open yet).
    assert re.search(r'data-count="registered">4<', page)
    api = await Api.of(app, client, demo["user:coordinator"])
    status, body = await api.get("/desk/cases", risk="red")
    assert status == 200 and [c["id"] for c in body["cases"]] == [red]
    assert body["counts"]["registered"] == 1 and body["total"] == 1
    status, body = await api.get("/desk/cases", status="dispatched")
    assert body["cases"] == [] and body["counts"]["registered"] == 4
    for bad in (
        {"risk": "purple"},
        {"per_page": "7"},
        {"page": "0"},
        {"org_id": "x"},
        {"status": "closed"},
    ):
        assert (await api.get("/desk/cases", **bad))[0] == 422, bad


async def test_filters_by_organisation_and_mediator(app, client, demo) -> None:
    api = await Api.of(app, client, demo["user:coordinator"])
    first, second = await _cases(app, demo, ["blue", "blue"])
    await api.post(f"/cases/{first}/dispatch", {"to_staff_id": demo["user:mediator2"]})
    _status, body = await api.get("/desk/cases", org_id=demo["org:village"])
    assert [c["id"] for c in body["cases"]] == [first]
    _status, body = await api.get("/desk/cases", mediator_id=demo["user:mediator2"])
    assert [c["id"] for c in body["cases"]] == [first] and body["cases"][0]["mediator"] == "刘调解"
    _status, body = await api.get("/desk/cases", org_id=demo["org:town"])
    assert [c["id"] for c in body["cases"]] == [second]


async def test_the_dashboard_costs_the_same_statements_whatever_the_page_size(
    app, client, demo
) -> None:
    await _cases(app, demo, ["blue", "yellow", "red"] * 8)
    await login(client, "coordinator")
    counts = []
    for query in ("per_page=10", "per_page=20&page=2", "per_page=50", "risk=red&per_page=100"):
        with statements(app) as seen:
            response = await client.get(f"/desk?{query}")
            assert response.status == 200
        counts.append(len(seen))
    assert len(set(counts)) == 1, counts
    assert counts[0] <= 6, counts  # session, staff, rows, counts, organisations, mediators


async def test_pagination(app, client, demo) -> None:
    ids = await _cases(app, demo, ["blue"] * 12)
    api = await Api.of(app, client, demo["user:coordinator"])
    _status, first = await api.get("/desk/cases", per_page=10)
    _status, second = await api.get("/desk/cases", per_page=10, page=2)
    assert (first["total"], first["pages"], len(first["cases"]), len(second["cases"])) == (
        12,
        2,
        10,
        2,
    )
    assert sorted(c["id"] for c in first["cases"] + second["cases"]) == ids
    await login(client, "coordinator")
    page = await (await client.get("/desk?per_page=10")).text()
    assert 'rel="next"' in page and "page=2" in page


async def test_the_dashboard_shows_only_the_viewers_subtree(app, client, demo) -> None:
    town_case, village_case = await _cases(app, demo, ["blue", "blue"])
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    await coordinator.post(f"/cases/{village_case}/dispatch", {"to_org_id": demo["org:village"]})
    village = await Api.of(
        app, client, await add_staff(app, "vc", "coordinator", demo["org:village"])
    )
    _status, body = await village.get("/desk/cases")
    assert [c["id"] for c in body["cases"]] == [village_case]
    _status, body = await village.get("/desk/cases", org_id=demo["org:town"])  # forged filter
    assert body["cases"] == [] and body["total"] == 0
    admin = await Api.of(app, client, demo["user:admin"])
    _status, body = await admin.get("/desk/cases")
    assert sorted(c["id"] for c in body["cases"]) == [town_case, village_case]
    mediator = await Api.of(app, client, demo["user:mediator"])
    assert (await mediator.get("/desk/cases"))[0] == 403


async def test_my_cases_lists_dispatches_to_answer_and_my_open_cases(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    mine, offered = await _cases(app, demo, ["blue", "yellow"])
    await coordinator.post(f"/cases/{mine}/dispatch", {"to_staff_id": demo["user:mediator2"]})
    await (await Api.of(app, client, demo["user:mediator2"])).post(f"/cases/{mine}/accept")
    await coordinator.post(f"/cases/{offered}/dispatch", {"to_org_id": demo["org:village"]})
    await login(client, "mediator2")
    response = await client.get("/desk", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/desk/mine"
    page = await (await client.get("/desk/mine")).text()
    assert f'action="/cases/{offered}/accept"' in page
    assert f'data-case="{mine}"' in page
    response = await post_form(client, f"/cases/{offered}/accept", {}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/cases/{offered}"
    page = await (await client.get("/desk/mine")).text()
    assert "/accept" not in page and f'data-case="{offered}"' in page


async def test_alarms_are_acknowledged_once_by_their_addressees(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    async with transaction(app) as db:
        await raise_alarm(db, "test:office", "overdue", org_id=demo["org:town"], case_id=case_id)
        await raise_alarm(
            db, "test:mediator", "overdue", org_id=demo["org:town"], staff_id=demo["user:mediator"]
        )
    (office,) = await alarms(app, Alarm.key == "test:office")
    (personal,) = await alarms(app, Alarm.key == "test:mediator")
    mediator = await Api.of(app, client, demo["user:mediator"])
    assert (await mediator.post(f"/alarms/{office.id}/ack"))[0] == 404
    second = await Api.of(app, client, await add_staff(app, "c2", "coordinator", demo["org:town"]))
    results = await asyncio.gather(
        coordinator.post(f"/alarms/{office.id}/ack"), second.post(f"/alarms/{office.id}/ack")
    )
    assert sorted(status for status, _ in results) == [200, 409], results
    assert (await mediator.post(f"/alarms/{personal.id}/ack"))[0] == 200
    assert (await mediator.get("/alarms"))[1]["alarms"] == []
    await login(client, "coordinator")
    page = await (await client.get("/desk/alarms?all=1")).text()
    assert 'data-kind="overdue"' in page
    assert "/desk/alarms/" not in page.split('data-kind="overdue"')[1].split("</li>")[0]
