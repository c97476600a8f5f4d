"""Triage: registering (受理) with type, tier, colour and deadline; refusing (不予受理) with the
reason texted to the applicant; referring (分流); red cases alarm the tier above."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key
from app.jobs import run_pending
from app.models import Alarm, CaseEvent, Job, Message
from app.settings import settings_key
from booking.models import Appointment, SlotClaim
from tests.booking.desk_data import (
    Api,
    add_staff,
    alarms,
    booked_tomorrow,
    case_row,
    events,
    registered_case,
)
from tests.booking.setup_data import count
from tests.builders import applications
from tests.people import login, post_form


async def test_registration_sets_type_tier_colour_and_the_deadline(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(
        app, coordinator, demo, risk="yellow", dispute_type="property_mgmt"
    )
    case = await case_row(app, case_id)
    assert (case.status, case.risk, case.complexity, case.tier, case.dispute_type) == (
        "registered",
        "yellow",
        "general",
        "town",
        "property_mgmt",
    )
    assert case.number and case.number.endswith("第0001号")
    hours = app[settings_key].deadline_hours["general"]
    assert case.registered_at and case.deadline_at == case.registered_at + timedelta(hours=hours)
    status, body = await coordinator.post(
        f"/cases/{case_id}/register", {"risk": "blue", "complexity": "simple", "tier": "town"}
    )
    assert status == 409, body


async def test_a_red_case_alarms_and_texts_the_tier_above(app, client, demo) -> None:
    district_coordinator = await add_staff(app, "district-c", "coordinator", demo["org:district"])
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo, risk="red")
    (alarm,) = await alarms(app, Alarm.kind == "red_case")
    assert (alarm.org_id, alarm.case_id, alarm.level) == (demo["org:district"], case_id, "critical")
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        texts = list(await db.scalars(select(Message).where(Message.recipient == "13800009999")))
    number = (await case_row(app, case_id)).number
    assert len(texts) == 1 and number and number in texts[0].body
    # The district's coordinators see it in their inbox; the town's do not.
    district = await Api.of(app, client, district_coordinator)
    status, body = await district.get("/alarms")
    assert status == 200 and [a["kind"] for a in body["alarms"]] == ["red_case"]
    assert (await coordinator.get("/alarms"))[1]["alarms"] == []
    # A blue case alarms nobody.
    await registered_case(app, coordinator, demo)
    assert len(await alarms(app, Alarm.kind == "red_case")) == 1


async def test_refusal_keeps_the_reason_and_texts_the_parties(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    (case_id,) = await applications(app, demo["org:town"])
    status, body = await coordinator.post(f"/cases/{case_id}/refuse", {"reason": "已起诉"})
    assert status == 422 and set(body["fields"]) == {"advice"}, body
    assert (await case_row(app, case_id)).status == "applied"
    refusal = {"reason": "该纠纷已由法院受理。", "advice": "请向吴江区人民法院了解审理进度。"}
    status, body = await coordinator.post(f"/cases/{case_id}/refuse", refusal)
    assert status == 200 and body["status"] == "refused", body
    last = (await events(app, case_id))[-1]
    assert (last.kind, last.data["reason"], last.data["advice"], last.public) == (
        "refused",
        refusal["reason"],
        refusal["advice"],
        True,
    )
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        bodies = list(await db.scalars(select(Message.body).where(Message.case_id == case_id)))
    assert len(bodies) == 2 and all(refusal["advice"] in b and "不予受理" in b for b in bodies)
    assert (
        await coordinator.post(
            f"/cases/{case_id}/register", {"risk": "blue", "complexity": "simple", "tier": "town"}
        )
    )[0] == 409


async def test_referral_to_another_channel_keeps_the_history(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    for bad in (
        {"target": "army", "note": "x"},
        {"target": "police"},
        {"target": "police", "note": "x" * 501},
    ):
        status, body = await coordinator.post(f"/cases/{case_id}/refer", bad)
        assert status == 422, body
    status, body = await coordinator.post(
        f"/cases/{case_id}/refer", {"target": "police", "note": "涉嫌故意伤害，移交派出所。"}
    )
    assert status == 200 and body["status"] == "referred", body
    kinds = [e.kind for e in await events(app, case_id)]
    assert kinds == ["applied", "registered", "referred"]
    assert (await coordinator.post(f"/cases/{case_id}/refer", {"target": "court", "note": "x"}))[
        0
    ] == 409


async def test_only_coordinators_of_the_case_triage_it(app, client, demo) -> None:
    (case_id,) = await applications(app, demo["org:town"])
    mediator = await Api.of(app, client, demo["user:mediator"])
    body = {"risk": "blue", "complexity": "simple", "tier": "town"}
    assert (await mediator.post(f"/cases/{case_id}/register", body))[0] == 404
    village = await Api.of(
        app, client, await add_staff(app, "vc", "coordinator", demo["org:village"])
    )
    assert (await village.post(f"/cases/{case_id}/register", body))[0] == 404
    assert (await case_row(app, case_id)).status == "applied"


async def test_two_coordinators_refusing_and_registering_at_once_one_wins(
    app, client, demo
) -> None:
    (case_id,) = await applications(app, demo["org:town"])
    first = await Api.of(app, client, demo["user:coordinator"])
    second = await Api.of(app, client, await add_staff(app, "c2", "coordinator", demo["org:town"]))
    results = await asyncio.gather(
        first.post(
            f"/cases/{case_id}/register", {"risk": "blue", "complexity": "simple", "tier": "town"}
        ),
        second.post(f"/cases/{case_id}/refuse", {"reason": "不属于调解范围", "advice": "请起诉"}),
    )
    assert sorted(status for status, _ in results) == [200, 409], results
    kinds = [e.kind for e in await events(app, case_id)]
    assert len(kinds) == 2 and kinds[1] in ("registered", "refused")


async def test_the_case_page_registers_and_refuses_through_its_panel(app, client, demo) -> None:
    await login(client, "coordinator")
    page = await (await client.get(f"/cases/{demo['case']}")).text()
    assert f'action="/cases/{demo["case"]}/refuse"' in page
    response = await post_form(
        client, f"/cases/{demo['case']}/register", {"risk": "purple"}, allow_redirects=False
    )
    assert response.status == 422
    response = await post_form(
        client,
        f"/cases/{demo['case']}/register",
        {"risk": "red", "complexity": "complex", "tier": "town"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get(f"/cases/{demo['case']}")).text()
    assert f'action="/cases/{demo["case"]}/dispatch"' in page
    assert await count(app, Job, Job.kind == "red_alert") == 1
    assert await count(app, CaseEvent, CaseEvent.kind == "registered") == 1


async def test_referring_a_scheduled_case_cancels_its_appointment(app, client, registered) -> None:
    ids = registered
    coordinator = await Api.of(app, client, ids["user:coordinator"])
    booked = await booked_tomorrow(coordinator, ids)
    referral = {"target": "court", "note": "涉及不动产确权，转法院诉调。"}
    status, body = await coordinator.post(f"/cases/{ids['case']}/refer", referral)
    assert status == 200 and body["status"] == "referred", body
    async with app[sessionmaker_key]() as db:
        appointment = await db.get(Appointment, booked["id"])
        assert appointment is not None and appointment.status == "cancelled"
    assert await count(app, SlotClaim) == 0
