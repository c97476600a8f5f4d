"""Deadline clocks at their edges, with a controlled clock: due-soon and overdue alarms up the
tiers (once per deadline), pause and resume, extension, supervision, the sweep's schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Alarm, Job
from app.settings import settings_key
from booking import clocks
from booking.models import FollowUp
from tests.booking.desk_data import (
    Api,
    add_staff,
    alarms,
    case_row,
    events,
    registered_case,
    who,
)
from tests.booking.test_aftercare import closed_case

SECOND = timedelta(seconds=1)


def recipients(found: list[Alarm]) -> set[tuple[str, int, int | None]]:
    return {(a.kind, a.org_id, a.staff_id) for a in found}


async def _deadline(app, case_id: int) -> datetime:
    deadline = (await case_row(app, case_id)).deadline_at
    assert deadline is not None
    return deadline


async def test_due_soon_then_overdue_alarms_go_up_the_tiers_once(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_staff_id": demo["user:mediator"]})
    mediator = await Api.of(app, client, demo["user:mediator"])
    assert (await mediator.post(f"/cases/{case_id}/accept"))[0] == 200
    deadline = await _deadline(app, case_id)
    soon = timedelta(hours=app[settings_key].due_soon_hours)
    town, district, me = demo["org:town"], demo["org:district"], demo["user:mediator"]

    await clocks.sweep(app, now=deadline - soon - SECOND)
    assert await alarms(app, Alarm.kind.in_(("due_soon", "overdue"))) == []
    await clocks.sweep(app, now=deadline - soon)
    due = await alarms(app, Alarm.kind == "due_soon")
    assert recipients(due) == {("due_soon", town, me), ("due_soon", town, None)}
    await clocks.sweep(app, now=deadline - SECOND)
    assert await alarms(app, Alarm.kind == "overdue") == []
    assert len(await alarms(app, Alarm.kind == "due_soon")) == 2
    raised = await clocks.sweep(app, now=deadline)
    overdue = await alarms(app, Alarm.kind == "overdue")
    assert raised == 3
    assert recipients(overdue) == {
        ("overdue", town, me),  # the responsible mediator
        ("overdue", town, None),  # the coordinators' office
        ("overdue", district, None),  # the tier above
    }
    assert {a.level for a in overdue} == {"critical"}
    assert await clocks.sweep(app, now=deadline + timedelta(hours=5)) == 0
    # The mediator's inbox has their own alarms; the district admin's the tier-above one.
    _status, body = await mediator.get("/alarms")
    assert {a["kind"] for a in body["alarms"]} == {"overdue", "due_soon"}
    admin = await Api.of(app, client, demo["user:admin"])
    assert [a["kind"] for a in (await admin.get("/alarms"))[1]["alarms"]] == ["overdue"]


async def test_an_extension_moves_the_deadline_and_the_alarms_fire_anew(app, client, demo) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    deadline = await _deadline(app, case_id)
    await clocks.sweep(app, now=deadline)
    assert len(await alarms(app, Alarm.kind == "overdue")) == 2  # the office and the district
    for bad in (
        {"hours": 24},
        {"hours": 0, "reason": "x"},
        {"hours": 721, "reason": "x"},
        {"hours": "24", "reason": "x"},
    ):
        status, body = await coordinator.post(f"/cases/{case_id}/clock/extend", bad)
        assert status == 422, (bad, body)
    assert await _deadline(app, case_id) == deadline
    status, body = await coordinator.post(
        f"/cases/{case_id}/clock/extend", {"hours": 48, "reason": "等待鉴定结论"}
    )
    assert status == 200, body
    assert await _deadline(app, case_id) == deadline + timedelta(hours=48)
    # Due soon: to the office only (no mediator yet; the tier above hears of overdue cases).
    assert await clocks.sweep(app, now=deadline + timedelta(hours=48) - SECOND) == 1
    assert await clocks.sweep(app, now=deadline + timedelta(hours=48)) == 2
    last = (await events(app, case_id))[-1]
    assert (last.kind, last.data["hours"], last.data["reason"]) == (
        "deadline_extended",
        48,
        "等待鉴定结论",
    )
    mediator = await Api.of(app, client, demo["user:mediator"])
    assert (await mediator.post(f"/cases/{case_id}/clock/extend", {"hours": 1, "reason": "x"}))[
        0
    ] == 404


async def test_a_paused_clock_raises_nothing_and_resumes_with_the_time_left(
    app, client, demo
) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    deadline = await _deadline(app, case_id)
    paused_at = deadline - timedelta(hours=30)
    principal = who(demo, "coordinator")
    async with transaction(app) as db:
        await clocks.pause(db, principal, case_id, {"reason": "当事人住院"}, paused_at)
    assert (await case_row(app, case_id)).deadline_at is None
    assert await clocks.sweep(app, now=deadline + timedelta(days=30)) == 0
    async with transaction(app) as db:
        await clocks.resume(db, principal, case_id, {}, paused_at + timedelta(days=10))
    assert await _deadline(app, case_id) == paused_at + timedelta(days=10, hours=30)
    # Pausing needs a reason; resuming a running clock is a conflict.
    status, body = await coordinator.post(f"/cases/{case_id}/clock/pause", {"reason": " "})
    assert status == 422, body
    assert (await coordinator.post(f"/cases/{case_id}/clock/resume"))[0] == 409
    kinds = [e.kind for e in await events(app, case_id)]
    assert kinds[-2:] == ["clock_paused", "clock_resumed"]
    # A finished case has no clock to pause.
    await coordinator.post(f"/cases/{case_id}/refer", {"target": "court", "note": "转诉讼"})
    assert (await coordinator.post(f"/cases/{case_id}/clock/pause", {"reason": "x"}))[0] == 409


async def test_supervision_comes_from_the_tier_above_and_alarms_the_handler(
    app, client, demo
) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_staff_id": demo["user:mediator"]})
    await (await Api.of(app, client, demo["user:mediator"])).post(f"/cases/{case_id}/accept")
    status, body = await coordinator.post(f"/cases/{case_id}/supervise", {"message": "请加快"})
    assert status == 403, body  # the case's own organisation
    admin = await Api.of(app, client, demo["user:admin"])
    assert (await admin.post(f"/cases/{case_id}/supervise", {}))[0] == 422
    status, body = await admin.post(
        f"/cases/{case_id}/supervise", {"message": "请三日内回复进展。"}
    )
    assert status == 200, body
    last = (await events(app, case_id))[-1]
    assert (last.kind, last.data["message"], last.public) == (
        "supervised",
        "请三日内回复进展。",
        False,
    )
    (alarm,) = await alarms(app, Alarm.kind == "supervision")
    assert (alarm.staff_id, alarm.org_id) == (demo["user:mediator"], demo["org:town"])


async def test_the_sweep_job_runs_and_keeps_one_successor(app, client, demo) -> None:
    async with transaction(app) as db:
        await clocks.schedule_sweep(db, app[settings_key], first=True)
        await clocks.schedule_sweep(db, app[settings_key], first=True)  # already waiting
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        sweeps = list(await db.scalars(select(Job).where(Job.kind == clocks.SWEEP_JOB)))
    assert sorted(job.status for job in sweeps) == ["done", "pending"]
    (waiting,) = [job for job in sweeps if job.status == "pending"]
    (ran,) = [job for job in sweeps if job.status == "done"]
    interval = timedelta(minutes=app[settings_key].sweep_minutes)
    assert waiting.run_after - ran.created_at >= interval - timedelta(seconds=5)


async def test_a_new_mediator_receives_the_alarms_already_raised_for_the_deadline(
    app, client, demo
) -> None:
    coordinator = await Api.of(app, client, demo["user:coordinator"])
    case_id = await registered_case(app, coordinator, demo)
    first, town = demo["user:mediator"], demo["org:town"]
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_staff_id": first})
    assert (await (await Api.of(app, client, first)).post(f"/cases/{case_id}/accept"))[0] == 200
    deadline = await _deadline(app, case_id)
    assert await clocks.sweep(app, now=deadline) == 3
    second = await add_staff(app, "mediator-b", "mediator", town)
    await coordinator.post(f"/cases/{case_id}/dispatch", {"to_staff_id": second})
    assert (await (await Api.of(app, client, second)).post(f"/cases/{case_id}/accept"))[0] == 200
    assert await clocks.sweep(app, now=deadline + SECOND) == 1  # theirs; the offices had theirs
    overdue = await alarms(app, Alarm.kind == "overdue", Alarm.staff_id.is_not(None))
    assert {a.staff_id for a in overdue} == {first, second}
    assert await clocks.sweep(app, now=deadline + 2 * SECOND) == 0


async def test_the_desk_sweep_raises_the_after_care_alarms_too(app, client, demo) -> None:
    """A follow-up left unrecorded past its day is alarmed by the periodic sweep, even if the
    delayed job that should have raised it was lost."""
    case_id = await closed_case(app, client, demo)
    async with app[sessionmaker_key]() as db:
        (follow_up,) = (await db.scalars(select(FollowUp).where(FollowUp.case_id == case_id))).all()
        assert follow_up.alarm_at is not None
        due = follow_up.alarm_at
    await clocks.sweep(app, now=due - SECOND)
    assert await alarms(app, Alarm.kind == "followup_due") == []
    await clocks.sweep(app, now=due)
    (alarm,) = await alarms(app, Alarm.kind == "followup_due")
    assert alarm.case_id == case_id
    await clocks.sweep(app, now=due + SECOND)
    assert len(await alarms(app, Alarm.kind == "followup_due")) == 1
