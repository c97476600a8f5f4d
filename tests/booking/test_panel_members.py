"""Replacing one expert of a panel keeps the rest and the time, all or nothing: the new expert
must be free, the replaced one is released and both are texted through the outbox."""

from __future__ import annotations

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.models import CaseStaff, Job, StaffUser
from booking.models import AppointmentMember, AvailabilityRule, BookingProfile, SlotClaim, StaffDay
from tests.booking.setup_data import bearer, tomorrow_at
from tests.people import login, post_form

URL = "/api/v1/appointments"


async def _expert(app, org_id: int) -> int:
    async with transaction(app) as db:
        person = StaffUser(
            org_id=org_id, username="新专家", display_name="新专家", role="expert",
            password_hash="x", phone="13700000009",
        )  # fmt: skip
        db.add(person)
        await db.flush()
        db.add_all(
            AvailabilityRule(staff_id=person.id, weekday=w, start_minute=540, end_minute=1050)
            for w in range(7)
        )
    return person.id


async def _book(client, headers, ids, hour: int, mediator: int, experts: list[int]) -> dict:
    body = {
        "case_id": ids["case"],
        "mediator_id": mediator,
        "starts_at": tomorrow_at(hour).isoformat(),
        "minutes": 60,
        "expert_ids": experts,
    }
    response = await client.post(URL, json=body, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def _state(app, appointment_id: int):
    async with app[sessionmaker_key]() as db:
        members = dict(
            (await db.execute(
                select(AppointmentMember.staff_id, AppointmentMember.role).where(
                    AppointmentMember.appointment_id == appointment_id
                )
            )).all()
        )  # fmt: skip
        claims = sorted(
            (await db.execute(
                select(SlotClaim.staff_id, SlotClaim.cell_start).where(
                    SlotClaim.appointment_id == appointment_id
                )
            )).all()
        )  # fmt: skip
        team = set(await db.scalars(select(CaseStaff.staff_id).where(CaseStaff.role == "expert")))
        texts = [j.payload["phone"] for j in await db.scalars(select(Job).where(Job.kind == "sms"))]
    return members, claims, team, texts


async def test_one_expert_is_replaced_and_the_rest_stay(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    mediator, old = registered["user:mediator"], registered["user:mediator2"]
    new = await _expert(app, registered["org:town"])
    booked = await _book(client, headers, registered, 14, mediator, [old])
    await login(client, "coordinator")
    page = await (await client.get(f"/cases/{registered['case']}")).text()
    path = f"/cases/{registered['case']}/appointments/{booked['id']}/experts"
    assert 'id="panel-experts"' in page and f'action="{path}"' in page
    response = await post_form(
        client, path, {"old_id": str(old), "new_id": str(new)}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    members, claims, team, texts = await _state(app, booked["id"])
    assert members == {mediator: "mediator", new: "expert"}
    assert {staff for staff, _ in claims} == {mediator, new} and len(claims) == 4
    assert [cell for staff, cell in claims if staff == new] == [
        cell for staff, cell in claims if staff == mediator
    ]
    assert team == {new} and "13700000009" in texts and "13800000004" in texts


async def test_a_busy_expert_cannot_come_in_and_nothing_changes(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    mediator, old = registered["user:mediator"], registered["user:mediator2"]
    new = await _expert(app, registered["org:town"])
    booked = await _book(client, headers, registered, 14, mediator, [old])
    await _book(client, headers, registered, 14, new, [])  # the new expert is busy then
    before = await _state(app, booked["id"])
    await login(client, "coordinator")
    path = f"/cases/{registered['case']}/appointments/{booked['id']}/experts"
    busy = await post_form(client, path, {"old_id": str(old), "new_id": str(new)})
    assert busy.status == 409
    assert await _state(app, booked["id"]) == before
    mediator_is_no_expert = await post_form(
        client, path, {"old_id": str(mediator), "new_id": str(new)}
    )
    assert mediator_is_no_expert.status == 422


async def _days(app) -> dict[int, int]:
    async with app[sessionmaker_key]() as db:
        return dict((await db.execute(select(StaffDay.staff_id, StaffDay.booked))).all())


async def test_the_session_moves_to_the_new_experts_day_and_respects_their_maximum(
    app, client, registered
):
    headers = await bearer(app, registered["user:coordinator"])
    mediator, old = registered["user:mediator"], registered["user:mediator2"]
    new = await _expert(app, registered["org:town"])
    booked = await _book(client, headers, registered, 14, mediator, [old])
    assert (await _days(app)).get(old) == 1
    await login(client, "coordinator")
    path = f"/cases/{registered['case']}/appointments/{booked['id']}/experts"
    async with transaction(app) as db:
        db.add(BookingProfile(staff_id=new, daily_max=1))
    morning = await _book(client, headers, registered, 9, new, [])  # the new expert's day is full
    full = await post_form(client, path, {"old_id": str(old), "new_id": str(new)})
    assert full.status == 422 and (await _days(app)) == {mediator: 1, old: 1, new: 1}
    cancelled = await client.post(f"{URL}/{morning['id']}/cancel", headers=headers)
    assert cancelled.status == 200
    moved = await post_form(
        client, path, {"old_id": str(old), "new_id": str(new)}, allow_redirects=False
    )
    assert moved.status == 303, await moved.text()
    days = await _days(app)
    assert days[old] == 0 and days[new] == 1 and days[mediator] == 1


async def test_the_api_replaces_an_expert_and_refuses_bad_ids(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    mediator, old = registered["user:mediator"], registered["user:mediator2"]
    new = await _expert(app, registered["org:town"])
    booked = await _book(client, headers, registered, 14, mediator, [old])
    path = f"{URL}/{booked['id']}/experts"
    for bad in (
        {},
        {"old_id": old},
        {"old_id": True, "new_id": new},
        {"old_id": old, "new_id": "x"},
    ):
        refused = await client.post(path, json=bad, headers=headers)
        assert refused.status == 422, (bad, await refused.text())
    assert (await client.post(f"{URL}/999999/experts", json={}, headers=headers)).status == 404
    mediator_token = await bearer(app, mediator)
    forbidden = await client.post(path, json={"old_id": old, "new_id": new}, headers=mediator_token)
    assert forbidden.status == 403
    replaced = await client.post(path, json={"old_id": old, "new_id": new}, headers=headers)
    assert replaced.status == 200, await replaced.text()
    body = await replaced.json()
    assert [e["id"] for e in body["experts"]] == [new] and body["sequence"] == 1
    members, _, team, _ = await _state(app, booked["id"])
    assert members == {mediator: "mediator", new: "expert"} and team == {new}
