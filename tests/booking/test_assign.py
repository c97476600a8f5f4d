"""Choice and auto-assignment: the party's choice from the case page, "let the system choose"
by weighted load with the reason in the timeline and on the case page, language and the party's
preference, nobody matching, and two simultaneous assignments of one case assigning it once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.models import Case, CaseEvent, StaffUser
from booking.models import AvailabilityRule, BookingProfile, Dispatch
from tests.booking.setup_data import bearer, count
from tests.people import csrf, login, open_party_session, post_form


async def _mediator(app, org_id: int, name: str, languages=("普通话",), specialty="neighbour"):
    async with transaction(app) as db:
        person = StaffUser(
            org_id=org_id, username=name, display_name=name, role="mediator", password_hash="x"
        )
        db.add(person)
        await db.flush()
        db.add(BookingProfile(staff_id=person.id, specialties=[specialty], languages=languages))
        db.add_all(
            AvailabilityRule(staff_id=person.id, weekday=w, start_minute=540, end_minute=1020)
            for w in range(7)
        )
    return person.id


async def _give_cases(app, org_id: int, mediator_id: int, *complexities: str) -> None:
    async with transaction(app) as db:
        db.add_all(
            Case(
                org_id=org_id,
                dispute_type="neighbour",
                description="x",
                tier="town",
                complexity=complexity,
                status="accepted",
                mediator_id=mediator_id,
            )
            for complexity in complexities
        )


async def _assign(client, app, registered, **body):
    headers = await bearer(app, registered["user:coordinator"])
    url = f"/api/v1/cases/{registered['case']}/assign"
    return await client.post(url, json=body, headers=headers)


async def _reason(app, case_id: int) -> dict:
    async with app[sessionmaker_key]() as db:
        return await db.scalar(
            select(CaseEvent.data).where(
                CaseEvent.case_id == case_id, CaseEvent.kind == "auto_assigned"
            )
        )


async def test_the_least_loaded_specialist_is_chosen_and_the_page_says_why(app, client, registered):
    town = registered["org:town"]
    busy = await _mediator(app, town, "忙调解")
    light = await _mediator(app, town, "闲调解")
    await _mediator(app, town, "劳动调解", specialty="labour")  # not a specialist of this case
    await _mediator(app, registered["org:village"], "村调解")  # the wrong tier
    await _give_cases(app, town, busy, "simple")  # weighs 1
    await _give_cases(app, town, light, "simple", "general")  # 2 cases, weighs 3
    await _give_cases(app, town, busy, "difficult")  # busy: 2 cases, weighs 6
    response = await _assign(client, app, registered)
    assert response.status == 200, await response.text()
    assert (await response.json())["mediator_id"] == light
    reason = await _reason(app, registered["case"])
    assert reason["staff_id"] == light and reason["specialty"] == "neighbour"
    assert (reason["open_cases"], reason["load"], reason["considered"]) == (2, 3, 2)
    assert reason["next_free"] and reason["preferred"] is False

    await login(client, "coordinator")
    page = await (await client.get(f"/cases/{registered['case']}")).text()
    assert "assignment-reason" in page and "闲调解" in page and "加权 3" in page


async def test_the_party_choice_comes_first_and_language_is_matched(app, client, registered):
    town = registered["org:town"]
    loaded = await _mediator(app, town, "河南调解", languages=("普通话", "河南话"))
    await _mediator(app, town, "空闲调解")
    await _give_cases(app, town, loaded, "complex", "complex")
    async with transaction(app) as db:
        case = await db.get(Case, registered["case"])
        case.preferred_mediator_id = loaded
    response = await _assign(client, app, registered, language="河南话")
    assert (await response.json())["mediator_id"] == loaded
    reason = await _reason(app, registered["case"])
    assert reason["preferred"] is True and reason["language"] == "河南话"


async def test_nobody_matching_is_a_conflict_and_changes_nothing(app, client, registered):
    await _mediator(app, registered["org:town"], "普通调解")
    response = await _assign(client, app, registered, language="粤语")
    assert response.status == 409
    messages = (await response.json())["messages"]
    assert messages["zh_CN"] and messages["en"] and messages["zh_CN"] != messages["en"]
    assert await count(app, Dispatch) == 0
    response = await _assign(client, app, registered, language="x" * 65)
    assert response.status == 422


async def test_two_simultaneous_assignments_assign_the_case_once(app, client, registered):
    for i in range(3):
        await _mediator(app, registered["org:town"], f"并发{i}")
    headers = await bearer(app, registered["user:coordinator"])
    url = f"/api/v1/cases/{registered['case']}/assign"

    async def attempt() -> int:
        response = await client.post(url, json={}, headers=headers)
        await response.read()
        return response.status

    statuses = await asyncio.gather(*(attempt() for _ in range(6)))
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409}, statuses
    assert await count(app, Dispatch) == 1
    assert await count(app, CaseEvent, CaseEvent.kind == "auto_assigned") == 1


async def test_a_party_chooses_from_the_case_page_until_dispatch(app, client, registered):
    chosen = await _mediator(app, registered["org:town"], "被选调解")
    elsewhere = await _mediator(app, registered["org:district"], "区调解")
    await open_party_session(client, app, registered["case"])
    case_page = f"/cases/{registered['case']}"
    page = await (await client.get(case_page)).text()
    assert 'id="choose-mediator"' in page and "被选调解" in page and "区调解" not in page
    path = f"{case_page}/mediator-choice"
    refused = await post_form(client, path, {"mediator_id": str(elsewhere)})
    assert refused.status == 422
    response = await post_form(client, path, {"mediator_id": str(chosen)}, allow_redirects=False)
    assert response.status == 303
    async with app[sessionmaker_key]() as db:
        assert (await db.get(Case, registered["case"])).preferred_mediator_id == chosen
        event = await db.scalar(select(CaseEvent).where(CaseEvent.kind == "mediator_chosen"))
        assert event.data["name"] == "被选调解" and event.actor.startswith("party:")

    assert (await _assign(client, app, registered)).status == 200
    late = await post_form(client, path, {"mediator_id": ""})
    assert late.status == 409


async def test_a_party_chooses_through_the_api_with_its_session(app, client, registered):
    chosen = await _mediator(app, registered["org:town"], "被选调解")
    elsewhere = await _mediator(app, registered["org:district"], "区调解")
    await open_party_session(client, app, registered["case"])
    path = f"/api/v1/cases/{registered['case']}/mediator-choice"
    token = {"X-CSRF-Token": await csrf(client, f"/cases/{registered['case']}")}
    assert (await client.post(path, json={"mediator_id": chosen})).status == 403  # no CSRF
    for bad in ({"mediator_id": elsewhere}, {"mediator_id": "x"}, {"mediator_id": True}):
        refused = await client.post(path, json=bad, headers=token)
        assert refused.status == 422, (bad, await refused.text())
    answer = await client.post(path, json={"mediator_id": chosen}, headers=token)
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["mediator"] == {"id": chosen, "name": "被选调解"}
    left = await client.post(path, json={"mediator_id": None}, headers=token)
    assert (await left.json())["mediator"] is None
    async with app[sessionmaker_key]() as db:
        assert (await db.get(Case, registered["case"])).preferred_mediator_id is None
    coordinator = await bearer(app, registered["user:coordinator"])
    staff = await client.post(path, json={"mediator_id": chosen}, headers=coordinator)
    assert staff.status == 403
