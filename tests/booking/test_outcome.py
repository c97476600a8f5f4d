"""Ending a case: outcome rules by status, closing requires an outcome, a termination notice to
each party, a closed case refuses every write but after-care, and concurrent closers (both DBs)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Case, CaseEvent, Job, Party
from booking.models import FollowUp
from tests.booking.setup_data import bearer, tomorrow_at
from tests.builders import draft_form, effective, scheduled
from tests.people import csrf, login, post_form


async def _case(app, case_id: int) -> Case:
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None
        return case


async def _sms_bodies(app, case_id: int) -> list[str]:
    async with app[sessionmaker_key]() as db:
        jobs = await db.scalars(select(Job).where(Job.kind == "sms").order_by(Job.id))
        return [j.payload["body"] for j in jobs if j.payload.get("case_id") == case_id]


async def _record(client, case_id: int, outcome: str, note: str = ""):
    return await post_form(
        client,
        f"/cases/{case_id}/outcome",
        {"outcome": outcome, "note": note},
        allow_redirects=False,
    )


async def test_oral_agreement_then_closing_schedules_after_care(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    missing_note = await _record(client, case_id, "oral_agreement")
    assert missing_note.status == 422
    assert "aria-invalid" in await missing_note.text()
    assert (await _case(app, case_id)).status == "scheduled"  # nothing stored

    written = await _record(client, case_id, "written_agreement")
    assert written.status == 409  # no agreement in effect

    recorded = await _record(
        client, case_id, "oral_agreement", "李建国三日内赔偿院墙修复费2000元。"
    )
    assert recorded.status == 303
    case = await _case(app, case_id)
    assert (case.status, case.outcome) == ("concluded", "oral_agreement")
    assert case.outcome_note == "李建国三日内赔偿院墙修复费2000元。" and case.outcome_at is not None

    closed = await post_form(client, f"/cases/{case_id}/close", {}, allow_redirects=False)
    assert closed.status == 303
    case = await _case(app, case_id)
    assert case.status == "closed" and case.closed_at is not None
    async with app[sessionmaker_key]() as db:
        followup = await db.scalar(select(FollowUp).where(FollowUp.case_id == case_id))
        parties = list(await db.scalars(select(Party).where(Party.case_id == case_id)))
    assert followup is not None and followup.recorded_at is None
    assert followup.due_at - case.closed_at == timedelta(days=30)
    rating_sms = [b for b in await _sms_bodies(app, case_id) if "/p/" in b]
    assert len(rating_sms) == len(parties) == 2
    again = await post_form(client, f"/cases/{case_id}/close", {}, allow_redirects=False)
    assert again.status == 409


async def test_closing_requires_an_outcome(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    response = await post_form(client, f"/cases/{case_id}/close", {}, allow_redirects=False)
    assert response.status == 409
    assert (await _case(app, case_id)).status == "scheduled"


async def test_termination_tells_each_party_the_other_routes(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    response = await _record(client, case_id, "terminated", "被申请人拒绝继续调解")
    assert response.status == 303
    bodies = await _sms_bodies(app, case_id)
    assert len(bodies) == 2
    assert all("仲裁" in b and "诉讼" in b and "被申请人拒绝继续调解" in b for b in bodies)


async def test_a_written_agreement_needs_one_in_effect(app, client, demo):
    agreement = await effective(app, demo)
    await login(client, "mediator")
    oral = await _record(client, agreement.case_id, "oral_agreement", "口头")
    assert oral.status == 409
    written = await _record(client, agreement.case_id, "written_agreement")
    assert written.status == 303
    assert (await _case(app, agreement.case_id)).outcome == "written_agreement"


async def test_only_who_conducts_the_case_records_its_outcome(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "expert")  # not on the case's team: the case is invisible
    assert (await _record(client, case_id, "withdrawn")).status == 404
    assert (await _case(app, case_id)).status == "scheduled"


async def test_two_closers_at_once_close_once(app, client, new_client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    assert (await _record(client, case_id, "withdrawn")).status == 303
    other = await new_client()
    await login(other, "coordinator")
    tokens = [await csrf(client), await csrf(other)]
    answers = await asyncio.gather(
        *(
            c.post(f"/cases/{case_id}/close", data={"_csrf": t}, allow_redirects=False)
            for c, t in zip((client, other), tokens, strict=True)
        )
    )
    assert sorted(a.status for a in answers) == [303, 409]
    async with app[sessionmaker_key]() as db:
        closings = await db.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "closed")
        )
        followups = await db.scalars(select(FollowUp).where(FollowUp.case_id == case_id))
        assert len(list(closings)) == 1 and len(list(followups)) == 1


async def test_a_closed_case_refuses_booking_drafting_and_the_room(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    await _record(client, case_id, "withdrawn")
    assert (await post_form(client, f"/cases/{case_id}/close", {})).status == 200
    assert (await _case(app, case_id)).status == "closed"

    room = await client.get(f"/cases/{case_id}/room", allow_redirects=False)
    assert room.status == 410
    draft = await post_form(
        client, f"/cases/{case_id}/agreement", draft_form(), allow_redirects=False
    )
    assert draft.status == 409
    headers = await bearer(app, demo["user:coordinator"])
    booking = await client.post(
        "/api/v1/appointments",
        json={
            "case_id": case_id,
            "mediator_id": demo["user:mediator"],
            "starts_at": tomorrow_at(10).isoformat(),
        },
        headers=headers,
    )
    assert booking.status == 409
    outcome_again = await _record(client, case_id, "terminated", "再次")
    assert outcome_again.status == 409
    assert (await _case(app, case_id)).status == "closed"
