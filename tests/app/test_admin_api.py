"""The admin API: organisations and staff inside the subtree, one-time passwords answered once,
deactivation, and the deadlines."""

from __future__ import annotations

from app.models import Organization, StaffUser
from tests.booking.setup_data import bearer, count


async def test_admin_api_creates_inside_the_subtree_only(app, client, demo):
    headers = {**await bearer(app, demo["user:admin"]), "Idempotency-Key": "org-1"}
    org = {
        "parent_id": demo["org:village"],
        "name": "联杨村第二调委会",
        "short_name": "吴联二",
        "tier": "village",
    }
    first = await client.post("/api/v1/admin/organizations", json=org, headers=headers)
    again = await client.post("/api/v1/admin/organizations", json=org, headers=headers)
    assert (first.status, again.status) == (201, 201) and await first.json() == await again.json()
    assert await count(app, Organization) == 5
    outside = {**org, "parent_id": demo["org:court"]}
    plain = await bearer(app, demo["user:admin"])
    assert (
        await client.post("/api/v1/admin/organizations", json=outside, headers=plain)
    ).status == 404
    coordinator = await bearer(app, demo["user:coordinator"])
    assert (
        await client.post("/api/v1/admin/organizations", json=org, headers=coordinator)
    ).status == 403
    assert await count(app, Organization) == 5


async def test_staff_password_and_deactivation_over_the_api(app, client, demo):
    headers = await bearer(app, demo["user:admin"])
    person = {
        "org_id": demo["org:town"],
        "username": "api.user",
        "display_name": "接口用户",
        "role": "mediator",
    }
    created = await client.post("/api/v1/admin/staff", json=person, headers=headers)
    assert created.status == 201
    staff = await created.json()
    assert "password" not in str(staff)
    reset = await client.post(f"/api/v1/admin/staff/{staff['id']}/password", headers=headers)
    assert reset.status == 200 and reset.headers["Cache-Control"] == "private, no-store"
    assert len((await reset.json())["one_time_password"]) == 12
    theirs = await bearer(app, staff["id"])
    assert (await client.get("/api/v1/mediators", headers=theirs)).status == 200
    off = await client.post(f"/api/v1/admin/staff/{staff['id']}/deactivate", headers=headers)
    assert off.status == 200 and (await off.json())["active"] is False
    assert (await client.get("/api/v1/mediators", headers=theirs)).status == 401
    assert await count(app, StaffUser, StaffUser.active.is_(False)) == 1


async def test_deadlines_over_the_api(app, client, demo):
    headers = await bearer(app, demo["user:admin"])
    shown = await (await client.get("/api/v1/admin/deadlines", headers=headers)).json()
    assert shown["general"] == 72 and shown["followup_days"] == 30
    wanted = {**shown, "followup_days": 20}
    saved = await client.put("/api/v1/admin/deadlines", json=wanted, headers=headers)
    assert saved.status == 200 and (await saved.json())["followup_days"] == 20
    wrong = await client.put(
        "/api/v1/admin/deadlines", json={**wanted, "simple": True}, headers=headers
    )
    assert wrong.status == 422
