"""After-care: the follow-up and non-performance alarms at their time edges (a controlled `now`),
reminders, staff recording, and the parties' rating: once, even under concurrent submits."""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta

from sqlalchemy import select, update

from app.db import sessionmaker_key, transaction, utcnow
from app.deadlines import do_save
from app.jobs import run_pending
from app.models import Alarm, Case, Job
from booking.aftercare import mediator_ratings, raise_due_alarms
from booking.models import FollowUp, PerformanceItem, Rating
from booking.slots import local_moment, local_today
from tests.builders import scheduled
from tests.people import csrf, login, open_party_session, post_form

SCORES = {"attitude": "5", "procedure": "4", "result": "3", "comment": "调解员很耐心"}


async def closed_case(app, client, demo) -> int:
    """A case the mediator (logged in on `client`) ended by oral agreement and closed."""
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    form = {"outcome": "oral_agreement", "note": "李建国于月底前赔偿2000元。"}
    assert (await post_form(client, f"/cases/{case_id}/outcome", form)).status == 200
    assert (await post_form(client, f"/cases/{case_id}/close", {})).status == 200
    return case_id


async def sweep(app, now) -> list[str]:
    async with transaction(app) as db:
        await raise_due_alarms(db, now)
    async with app[sessionmaker_key]() as db:
        return list(await db.scalars(select(Alarm.kind).order_by(Alarm.id)))


async def followup_of(app, case_id: int) -> FollowUp:
    async with app[sessionmaker_key]() as db:
        found = await db.scalar(select(FollowUp).where(FollowUp.case_id == case_id))
        assert found is not None
        return found


async def test_the_follow_up_alarm_fires_when_due_once(app, client, demo):
    case_id = await closed_case(app, client, demo)
    due = (await followup_of(app, case_id)).due_at
    assert await sweep(app, due - timedelta(seconds=1)) == []
    assert await sweep(app, due) == ["followup_due"]
    assert await sweep(app, due + timedelta(days=3)) == ["followup_due"]  # raised once
    async with app[sessionmaker_key]() as db:
        alarm = await db.scalar(select(Alarm))
        assert alarm is not None and alarm.case_id == case_id
        assert alarm.staff_id == demo["user:mediator"] and alarm.org_id == demo["org:town"]


async def test_a_recorded_follow_up_raises_nothing_and_is_recorded_once(app, client, demo):
    case_id = await closed_case(app, client, demo)
    visit = {"method": "phone", "result": "resolved", "note": "双方已和好"}
    bad = await post_form(client, f"/cases/{case_id}/followup", {**visit, "method": "fax"})
    assert bad.status == 422
    assert (await followup_of(app, case_id)).recorded_at is None
    ok = await post_form(client, f"/cases/{case_id}/followup", visit, allow_redirects=False)
    assert ok.status == 303
    again = await post_form(client, f"/cases/{case_id}/followup", visit, allow_redirects=False)
    assert again.status == 409
    followup = await followup_of(app, case_id)
    assert (followup.method, followup.result, followup.note) == ("phone", "resolved", "双方已和好")
    assert await sweep(app, followup.due_at + timedelta(days=1)) == []
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'data-followup="recorded"' in page


async def add_item(client, case_id: int, day: date, **changes: str):
    form = {"what": "支付院墙修复费", "debtor": "李建国", "due_on": day.isoformat()}
    return await post_form(
        client, f"/cases/{case_id}/performance", {**form, **changes}, allow_redirects=False
    )


async def items(app, case_id: int) -> list[PerformanceItem]:
    async with app[sessionmaker_key]() as db:
        return list(
            await db.scalars(select(PerformanceItem).where(PerformanceItem.case_id == case_id))
        )


async def test_non_performance_alarm_after_the_day_has_passed(app, client, demo):
    case_id = await closed_case(app, client, demo)
    due_on = local_today() + timedelta(days=10)
    for wrong in ({"amount": "12.345"}, {"due_on": "2026-02-30"}, {"debtor": ""}):
        assert (await add_item(client, case_id, due_on, **wrong)).status == 422
    assert await items(app, case_id) == []
    assert (await add_item(client, case_id, due_on, amount="2000.5")).status == 303
    (item,) = await items(app, case_id)
    assert item.amount_fen == 200050 and item.status == "pending"

    last_moment = local_moment(due_on, time(23, 59, 59))
    assert await sweep(app, last_moment) == []
    assert await sweep(app, local_moment(due_on + timedelta(days=1), time())) == ["not_performed"]
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert f'data-item="{item.id}" data-status="pending"' in page


async def test_marked_items_raise_nothing_and_are_marked_once(app, client, demo):
    case_id = await closed_case(app, client, demo)
    due_on = local_today() + timedelta(days=2)
    await add_item(client, case_id, due_on)
    (item,) = await items(app, case_id)
    path = f"/cases/{case_id}/performance/{item.id}"
    done = await post_form(client, path, {"status": "performed"}, allow_redirects=False)
    assert done.status == 303
    again = await post_form(client, path, {"status": "not_performed"}, allow_redirects=False)
    assert again.status == 409
    assert (await items(app, case_id))[0].status == "performed"
    assert await sweep(app, local_moment(due_on + timedelta(days=5), time())) == []


async def test_the_reminder_goes_to_each_party_the_day_before(app, client, demo):
    case_id = await closed_case(app, client, demo)
    due_on = local_today() + timedelta(days=5)
    await add_item(client, case_id, due_on)
    async with transaction(app) as db:
        job = await db.scalar(select(Job).where(Job.kind == "performance_reminder"))
        assert job is not None
        reminder_at = local_moment(due_on - timedelta(days=1), time(9))
        assert abs(job.run_after - reminder_at) < timedelta(seconds=1)  # enqueue adds its now
        await db.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow()))
        before = await db.scalar(select(Job.id).order_by(Job.id.desc()))
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        sms = list(await db.scalars(select(Job).where(Job.kind == "sms", Job.id > before)))
    assert len(sms) == 2
    assert all("李建国" in j.payload["body"] and "支付院墙修复费" in j.payload["body"] for j in sms)


async def test_a_party_rates_once_even_with_ten_concurrent_submits(app, client, new_client, demo):
    case_id = await closed_case(app, client, demo)
    party = await new_client()
    await open_party_session(party, app, case_id)
    page = await (await party.get(f"/cases/{case_id}")).text()
    assert 'id="rating-form"' in page
    token = await csrf(party, f"/cases/{case_id}")
    bad = await party.post(
        f"/cases/{case_id}/rating", data={**SCORES, "result": "6", "_csrf": token}
    )
    assert bad.status == 422
    answers = await asyncio.gather(
        *(
            party.post(
                f"/cases/{case_id}/rating", data={**SCORES, "_csrf": token}, allow_redirects=False
            )
            for _ in range(10)
        )
    )
    assert sorted(a.status for a in answers) == [303] + [409] * 9
    async with app[sessionmaker_key]() as db:
        ratings = list(await db.scalars(select(Rating).where(Rating.case_id == case_id)))
        summary = await mediator_ratings(db, [demo["user:mediator"], demo["user:mediator2"]])
    assert len(ratings) == 1 and ratings[0].comment == "调解员很耐心"
    assert list(summary) == [demo["user:mediator"]]
    assert (summary[demo["user:mediator"]].count, summary[demo["user:mediator"]].result) == (1, 3)
    page = await (await party.get(f"/cases/{case_id}")).text()
    assert 'data-rated="yes"' in page and 'id="rating-form"' not in page


async def test_staff_cannot_rate_and_an_open_case_cannot_be_rated(app, client, new_client, demo):
    case_id = await scheduled(app, demo)
    party = await new_client()
    await open_party_session(party, app, case_id)
    token = await csrf(party, f"/cases/{case_id}")
    early = await party.post(f"/cases/{case_id}/rating", data={**SCORES, "_csrf": token})
    assert early.status == 409
    await login(client, "mediator")
    staff = await post_form(client, f"/cases/{case_id}/rating", SCORES)
    assert staff.status == 403


async def test_mediator_ratings_average_in_one_query(app, client, new_client, demo):
    case_id = await closed_case(app, client, demo)
    for role, result in (("applicant", "5"), ("respondent", "2")):
        party = await new_client()
        await open_party_session(party, app, case_id, role)
        token = await csrf(party, f"/cases/{case_id}")
        form = {**SCORES, "result": result, "_csrf": token}
        assert (await party.post(f"/cases/{case_id}/rating", data=form)).status == 200
    async with app[sessionmaker_key]() as db:
        summary = (await mediator_ratings(db, [demo["user:mediator"]]))[demo["user:mediator"]]
    assert (summary.count, summary.attitude, summary.procedure, summary.result) == (2, 5, 4, 3.5)
    assert summary.overall == 4.17


async def test_the_admins_follow_up_days_win_over_the_environment(app, client, demo):
    async with transaction(app) as db:
        await do_save(db, {"followup_days": 15}, "staff:1")
    case_id = await closed_case(app, client, demo)
    followup = await followup_of(app, case_id)
    async with app[sessionmaker_key]() as db:
        closed_at = await db.scalar(select(Case.closed_at).where(Case.id == case_id))
    assert closed_at is not None and followup.due_at - closed_at == timedelta(days=15)
