"""Dispatch and acceptance (派单 → 接单), declining, expiry, escalation and the case team, through
the JSON API on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key, transaction, utcnow
from app.forms import MAX_ID
from app.jobs import run_pending
from app.models import Alarm, Case, CaseEvent, CaseStaff, Job
from app.settings import settings_key
from booking import clocks, dispatch
from booking.models import Appointment, Dispatch, SlotClaim
from tests.booking.desk_data import (
    Api,
    add_staff,
    alarms,
    booked_tomorrow,
    case_row,
    dispatches,
    events,
    registered_case,
    who,
)
from tests.booking.setup_data import count
from tests.people import login, post_form


async def test_dispatch_to_a_village_then_its_mediator_accepts(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    status, body = await coordinator.post(
        f"/cases/{case_id}/dispatch", {"to_org_id": demo["org:village"], "note": "就近调解"}
    )
    assert status == 200, body
    assert body["status"] == "dispatched" and body["org_id"] == demo["org:village"]
    (sent,) = await dispatches(app, case_id)
    assert (sent.from_org_id, sent.to_org_id, sent.to_staff_id) == (
        demo["org:town"],
        demo["org:village"],
        None,
    )
    assert sent.ack_due_at - sent.at == timedelta(hours=app[settings_key].acknowledge_hours)
    (notice,) = await alarms(app, Alarm.kind == "dispatched")
    assert notice.org_id == demo["org:village"] and notice.case_id == case_id

    village = await Api.of(app, client, demo["user:mediator2"])
    status, body = await village.post(f"/cases/{case_id}/accept")
    assert status == 200, body
    assert body["status"] == "accepted" and body["mediator_id"] == demo["user:mediator2"]
    (answered,) = await dispatches(app, case_id)
    assert (
        answered.answer == "accepted" and answered.answered_by == f"staff:{demo['user:mediator2']}"
    )
    assert [e.kind for e in await events(app, case_id)][-2:] == ["dispatched", "dispatch_accepted"]
    # Accepting again: the dispatch was answered.
    status, body = await village.post(f"/cases/{case_id}/accept")
    assert status == 409, body


async def test_a_dispatch_to_a_mediator_is_answered_only_by_them(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    status, body = await coordinator.post(
        f"/cases/{case_id}/dispatch", {"to_staff_id": demo["user:mediator"]}
    )
    assert status == 200 and body["mediator_id"] == demo["user:mediator"], body
    other = await Api.of(app, client, demo["user:mediator2"])
    assert (await other.post(f"/cases/{case_id}/accept"))[0] == 404
    # The coordinator sees the case but is not its receiver.
    assert (await coordinator.post(f"/cases/{case_id}/accept"))[0] == 403
    mediator = await Api.of(app, client, demo["user:mediator"])
    status, body = await mediator.post(f"/cases/{case_id}/decline", {"reason": "本周出差"})
    assert status == 200, body
    case = await case_row(app, case_id)
    assert (case.status, case.org_id, case.mediator_id) == ("registered", demo["org:town"], None)
    (declined,) = await alarms(app, Alarm.kind == "dispatch_declined")
    assert declined.staff_id == demo["user:coordinator"] and declined.data["reason"] == "本周出差"


async def test_dispatch_outside_the_tree_is_refused_and_nothing_is_stored(
    app, client, demo
) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    before = len(await events(app, case_id))
    expert_id, court_id = demo["user:expert"], demo["org:court"]
    for body in (
        {"to_org_id": demo["org:district"]},  # above the coordinator
        {"to_org_id": court_id},  # not a mediation organisation
        {"to_org_id": MAX_ID},  # forged
        {"to_org_id": "2"},  # a string where an id is documented
        {"to_staff_id": expert_id},  # not a mediator, and outside the tree
        {"to_staff_id": demo["user:mediator2"], "to_org_id": demo["org:town"]},  # mismatch
        {},
    ):
        status, answer = await coordinator.post(f"/cases/{case_id}/dispatch", body)
        assert status == 422, (body, answer)
        assert answer["fields"], answer
    assert await count(app, Dispatch) == 0
    assert len(await events(app, case_id)) == before
    case = await case_row(app, case_id)
    assert (case.status, case.org_id) == ("registered", demo["org:town"])
    # A village coordinator cannot even see a town case.
    village_coordinator = await add_staff(
        app, "village-coordinator", "coordinator", demo["org:village"]
    )
    village = await Api.of(app, client, village_coordinator)
    status, _ = await village.post(f"/cases/{case_id}/dispatch", {"to_org_id": demo["org:village"]})
    assert status == 404


async def test_two_receivers_accepting_at_once_one_wins(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_org_id": demo["org:village"]})
    second = await add_staff(app, "mediator3", "mediator", demo["org:village"])
    receivers = [
        await Api.of(app, client, demo["user:mediator2"]),
        await Api.of(app, client, second),
    ]
    results = await asyncio.gather(*(r.post(f"/cases/{case_id}/accept") for r in receivers))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    winner = next(body for status, body in results if status == 200)
    case = await case_row(app, case_id)
    assert case.mediator_id == winner["mediator_id"]
    kinds = [e.kind for e in await events(app, case_id)]
    assert kinds.count("dispatch_accepted") == 1


async def test_accept_racing_decline_one_answer_counts(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_org_id": demo["org:village"]})
    second = await Api.of(app, client, await add_staff(app, "m4", "mediator", demo["org:village"]))
    village = await Api.of(app, client, demo["user:mediator2"])
    results = await asyncio.gather(
        village.post(f"/cases/{case_id}/accept"),
        second.post(f"/cases/{case_id}/decline", {"reason": "不在辖区"}),
    )
    assert sorted(status for status, _ in results) == [200, 409], results
    (row,) = await dispatches(app, case_id)
    case = await case_row(app, case_id)
    assert (row.answer, case.status) in {("accepted", "accepted"), ("declined", "registered")}


async def test_an_unacknowledged_dispatch_returns_once_by_job_or_sweep(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    hours = app[settings_key].acknowledge_hours
    sent_at = utcnow() - timedelta(hours=hours, minutes=1)
    async with transaction(app) as db:
        plan = await dispatch.check_dispatch(
            db, who(demo, "coordinator"), case_id, {"to_org_id": str(demo["org:village"])}
        )
        row = await dispatch.do_dispatch(
            db, app[settings_key], who(demo, "coordinator"), plan, now=sent_at
        )
    due = row.ack_due_at
    # One second before the window closes, the sweep leaves it alone.
    await clocks.sweep(app, now=due - timedelta(seconds=1))
    assert (await case_row(app, case_id)).status == "dispatched"
    # The delayed job and the sweep both try; the conditional answer lets one through.
    await asyncio.gather(run_pending(app), clocks.sweep(app, now=due))
    await clocks.sweep(app, now=due + timedelta(minutes=1))
    case = await case_row(app, case_id)
    assert (case.status, case.org_id, case.mediator_id) == ("registered", demo["org:town"], None)
    assert [d.answer for d in await dispatches(app, case_id)] == ["expired"]
    kinds = [e.kind for e in await events(app, case_id)]
    assert kinds.count("dispatch_expired") == 1
    (alarm,) = await alarms(app, Alarm.kind == "dispatch_expired")
    assert alarm.org_id == demo["org:town"] and alarm.staff_id == demo["user:coordinator"]
    # Too late to accept now.
    village = await Api.of(app, client, demo["user:mediator2"])
    assert (await village.post(f"/cases/{case_id}/accept"))[0] == 409


async def test_reassignment_withdraws_the_pending_dispatch(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_org_id": demo["org:village"]})
    status, body = await coordinator.post(
        f"/cases/{case_id}/dispatch", {"to_staff_id": demo["user:mediator"]}
    )
    assert status == 200 and body["org_id"] == demo["org:town"], body
    assert [d.answer for d in await dispatches(app, case_id)] == ["withdrawn", None]
    village = await Api.of(app, client, demo["user:mediator2"])
    assert (await village.post(f"/cases/{case_id}/accept"))[0] == 404


async def test_escalation_up_the_tiers_keeps_the_history(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_staff_id": demo["user:mediator2"]})
    village = await Api.of(app, client, demo["user:mediator2"])
    assert (await village.post(f"/cases/{case_id}/accept"))[0] == 200
    assert (await village.post(f"/cases/{case_id}/escalate", {}))[0] == 422
    status, body = await village.post(f"/cases/{case_id}/escalate", {"reason": "涉及多村土地"})
    assert status == 200, body
    assert (body["org_id"], body["status"], body["mediator_id"], body["tier"]) == (
        demo["org:town"],
        "registered",
        None,
        "town",
    )
    status, body = await coordinator.post(f"/cases/{case_id}/escalate", {"reason": "群体性风险"})
    assert status == 200 and body["org_id"] == demo["org:district"], body
    admin = await Api.of(app, client, demo["user:admin"])
    status, body = await admin.post(f"/cases/{case_id}/escalate", {"reason": "再上交"})
    assert status == 409, body  # the district is the terminus
    kinds = [e.kind for e in await events(app, case_id)]
    assert kinds == [
        "applied",
        "registered",
        "dispatched",
        "dispatch_accepted",
        "escalated",
        "escalated",
    ]
    escalated = await alarms(app, Alarm.kind == "escalated")
    assert [a.org_id for a in escalated] == [demo["org:town"], demo["org:district"]]


async def test_an_expert_added_to_the_team_sees_the_case(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await login(client, "expert")
    assert (await client.get(f"/cases/{case_id}")).status == 404
    for bad in (
        {"staff_id": demo["user:clerk"], "role": "expert"},
        {"staff_id": demo["user:expert"], "role": "boss"},
    ):
        assert (await coordinator.post(f"/cases/{case_id}/team", bad))[0] == 422
    status, body = await coordinator.post(
        f"/cases/{case_id}/team", {"staff_id": demo["user:expert"], "role": "expert"}
    )
    assert status == 200, body
    assert (await client.get(f"/cases/{case_id}")).status == 200
    # Adding again changes nothing.
    assert (
        await coordinator.post(
            f"/cases/{case_id}/team", {"staff_id": demo["user:expert"], "role": "expert"}
        )
    )[0] == 200
    assert await count(app, CaseStaff) == 1


async def test_the_same_idempotency_key_dispatches_once(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    body = {"to_org_id": demo["org:village"]}
    first = await coordinator.post(f"/cases/{case_id}/dispatch", body, **{"Idempotency-Key": "d-1"})
    again = await coordinator.post(f"/cases/{case_id}/dispatch", body, **{"Idempotency-Key": "d-1"})
    assert first == again and first[0] == 200
    assert len(await dispatches(app, case_id)) == 1
    assert await count(app, CaseEvent, CaseEvent.kind == "dispatched") == 1
    assert await count(app, Case) >= 1


async def test_a_refused_desk_form_shows_the_case_page_again_with_message_and_typing(
    app, client, demo
) -> None:
    """The HTML forms: the same checks as the API, answered with the case page, the form's
    message beside it and what was typed still there; nothing stored."""
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    before = len(await events(app, case_id))
    await login(client, "coordinator")
    response = await post_form(
        client,
        f"/cases/{case_id}/dispatch",
        {"to_org_id": str(demo["org:district"]), "note": "请上级处理 <b>"},
        allow_redirects=False,
    )
    assert response.status == 422
    page = await response.text()
    assert 'data-failed="dispatch"' in page and 'role="alert"' in page
    assert 'value="请上级处理 &lt;b&gt;"' in page  # typed, escaped
    response = await post_form(
        client,
        f"/cases/{case_id}/clock/extend",
        {"hours": "9999", "reason": "等待鉴定结论"},
        allow_redirects=False,
    )
    assert response.status == 422
    page = await response.text()
    assert 'data-failed="clock/extend"' in page and "等待鉴定结论" in page
    assert 'id="clock" open' in page
    assert await count(app, Dispatch) == 0
    assert len(await events(app, case_id)) == before
    # Accepting a dispatch that was never sent: a conflict, shown on the page, not an error page.
    await login(client, "mediator")
    response = await post_form(client, f"/cases/{case_id}/accept", {}, allow_redirects=False)
    assert response.status in (403, 404, 409)


async def test_a_scheduled_case_escalates_and_its_appointment_is_cancelled(
    app, client, registered
) -> None:
    """The tier above books its own people: the town's appointment is cancelled, its slots are
    freed, and the parties are told by the cancellation notice (ICS CANCEL and SMS)."""
    ids = registered
    coordinator = await Api.of(app, client, ids["user:coordinator"])
    booked = await booked_tomorrow(coordinator, ids)
    assert (await case_row(app, ids["case"])).status == "scheduled"
    status, body = await coordinator.post(
        f"/cases/{ids['case']}/escalate", {"reason": "群体性风险"}
    )
    assert status == 200, body
    assert (body["status"], body["org_id"], body["mediator_id"]) == (
        "registered",
        ids["org:district"],
        None,
    )
    async with app[sessionmaker_key]() as db:
        appointment = await db.get(Appointment, booked["id"])
        assert appointment is not None and appointment.status == "cancelled"
        notices = list(
            await db.scalars(select(Job.payload).where(Job.kind == "appointment_notice"))
        )
    assert await count(app, SlotClaim) == 0
    assert {"appointment_id": booked["id"], "sequence": 1, "change": "cancelled"} in notices
    kinds = [e.kind for e in await events(app, ids["case"])]
    assert kinds[-2:] == ["appointment_cancelled", "escalated"]
