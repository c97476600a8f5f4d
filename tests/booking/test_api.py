"""The booking JSON API: the double-booking race, idempotency, bad input, access, OpenAPI."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Case, IdempotencyRecord, Message, Party
from booking.models import Appointment, SlotClaim
from tests.booking.setup_data import bearer, count, tomorrow_at

URL = "/api/v1/appointments"


def booking_body(ids: dict[str, int], hour: int, minute: int = 0, minutes: int = 60) -> dict:
    return {
        "case_id": ids["case"],
        "mediator_id": ids["user:mediator"],
        "starts_at": tomorrow_at(hour, minute).isoformat(),
        "minutes": minutes,
    }


async def test_fifty_concurrent_bookings_of_one_slot_exactly_one_wins(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    body = booking_body(registered, 9)

    async def attempt(i: int) -> tuple[int, dict]:
        response = await client.post(
            URL, json=body, headers={**headers, "Idempotency-Key": f"race-{i}"}
        )
        return response.status, await response.json()

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    statuses = [status for status, _body in results]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    conflict = next(body for status, body in results if status == 409)
    assert conflict["error"] == "conflict"
    assert conflict["messages"]["en"] == "This time is already taken. Please choose another slot."
    assert conflict["messages"]["zh_CN"] != conflict["messages"]["en"]

    assert await count(app, Appointment) == 1
    winner = next(body for status, body in results if status == 201)
    async with app[sessionmaker_key]() as db:
        claims = list(await db.scalars(select(SlotClaim).order_by(SlotClaim.cell_start)))
    assert [c.appointment_id for c in claims] == [winner["id"], winner["id"]]
    assert [c.cell_start for c in claims] == [tomorrow_at(9), tomorrow_at(9, 30)]
    # Only the winner's answer was kept under its key; nothing of the losers was written.
    assert await count(app, IdempotencyRecord) == 1


async def test_overlapping_but_different_requests_one_wins(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    for first, second in (((9, 0), (9, 30)), ((14, 30), (14, 0)), ((16, 0), (15, 30))):
        responses = await asyncio.gather(
            client.post(URL, json=booking_body(registered, *first), headers=headers),
            client.post(URL, json=booking_body(registered, *second), headers=headers),
        )
        assert sorted(r.status for r in responses) == [201, 409]
    assert await count(app, Appointment) == 3
    assert await count(app, SlotClaim) == 6


async def test_same_key_twice_books_once_and_answers_the_same(app, client, registered):
    headers = {**await bearer(app, registered["user:coordinator"]), "Idempotency-Key": "k-1"}
    body = booking_body(registered, 10)
    first = await client.post(URL, json=body, headers=headers)
    second = await client.post(URL, json=body, headers=headers)
    assert first.status == second.status == 201
    assert await first.json() == await second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await count(app, Appointment) == 1
    # Invitation SMS jobs were queued once (one per party), not twice.
    assert await count(app, Party, Party.case_id == registered["case"]) == 2

    other = await client.post(URL, json=booking_body(registered, 11), headers=headers)
    assert other.status == 422
    problem = await other.json()
    assert problem["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in problem["messages"]["en"]
    assert await count(app, Appointment) == 1


async def test_same_key_concurrently_books_once(app, client, registered):
    headers = {**await bearer(app, registered["user:coordinator"]), "Idempotency-Key": "twice"}
    body = booking_body(registered, 14)
    responses = await asyncio.gather(
        *(client.post(URL, json=body, headers=headers) for _ in range(5))
    )
    assert [r.status for r in responses] == [201] * 5
    bodies = [await r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert await count(app, Appointment) == 1


async def test_booking_sets_case_and_queues_invitations(app, client, registered):
    from app.jobs import run_pending

    headers = await bearer(app, registered["user:coordinator"])
    response = await client.post(URL, json=booking_body(registered, 15, 30, 90), headers=headers)
    assert response.status == 201
    body = await response.json()
    assert body["starts_at"].endswith("+08:00") and body["ends_at"].endswith("+08:00")
    assert body["minutes"] == 90 and body["sequence"] == 0 and body["experts"] == []
    assert "/p/" not in str(body)  # the answer may be stored; links never are
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, registered["case"])
        assert case is not None
        assert case.status == "scheduled" and case.mediator_id == registered["user:mediator"]
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        bodies = list(await db.scalars(select(Message.body)))
    assert len(bodies) == 2
    assert all("/p/" in b and "陈调解" in b and "15:30" in b for b in bodies)
    assert await count(app, SlotClaim) == 3


async def test_bad_booking_input_is_a_clear_4xx_and_writes_nothing(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    good = booking_body(registered, 9)
    past = (tomorrow_at(9) - timedelta(days=3)).isoformat()
    cases = [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"case_id": 1, "case_id": 2}', 400, None),
        ({**good, "case_id": "1"}, 422, "case_id"),
        ({**good, "case_id": True}, 422, "case_id"),
        ({**good, "mediator_id": 10**30}, 422, "mediator_id"),
        ({**good, "starts_at": "tomorrow at nine"}, 422, "starts_at"),
        ({**good, "starts_at": "2026-02-30T09:00:00+08:00"}, 422, "starts_at"),
        ({**good, "starts_at": tomorrow_at(9, 10).isoformat()}, 422, "starts_at"),
        ({**good, "starts_at": past}, 422, "starts_at"),
        ({**good, "starts_at": tomorrow_at(20).isoformat()}, 422, "starts_at"),
        ({**good, "minutes": 45}, 422, "minutes"),
        ({**good, "minutes": 1.5}, 422, "minutes"),
        ({**good, "case_id": 999999}, 404, None),
        ({**good, "mediator_id": 999999}, 404, None),
        ({**good, "mediator_id": registered["user:coordinator"]}, 404, None),
    ]
    for payload, status, field in cases:
        if isinstance(payload, bytes):
            response = await client.post(
                URL, data=payload, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            response = await client.post(URL, json=payload, headers=headers)
        assert response.status == status, (payload, await response.text())
        problem = await response.json()
        assert problem["messages"]["zh_CN"] and problem["messages"]["en"]
        if field:
            assert field in problem["fields"], problem
            assert problem["fields"][field]["zh_CN"] != problem["fields"][field]["en"]
    assert await count(app, Appointment) == 0
    assert await count(app, SlotClaim) == 0


async def test_naive_start_is_read_as_beijing_time(app, client, registered):
    headers = await bearer(app, registered["user:coordinator"])
    naive = tomorrow_at(9).replace(tzinfo=None).isoformat()
    response = await client.post(
        URL, json={**booking_body(registered, 9), "starts_at": naive}, headers=headers
    )
    assert response.status == 201
    assert (await response.json())["starts_at"] == tomorrow_at(9).isoformat()


async def test_unregistered_case_cannot_be_booked(app, client, booking_demo):
    headers = await bearer(app, booking_demo["user:coordinator"])
    response = await client.post(URL, json=booking_body(booking_demo, 9), headers=headers)
    assert response.status == 409
    assert "register" in (await response.json())["messages"]["en"]


async def test_api_access(app, client, registered):
    for path in ("/api/v1/mediators", f"/api/v1/mediators/{registered['user:mediator']}/slots"):
        response = await client.get(path)
        assert response.status == 401
        assert (await response.json())["error"] == "not_authenticated"
    wrong = {"Authorization": "Bearer not-a-token"}
    response = await client.post(URL, json=booking_body(registered, 9), headers=wrong)
    assert response.status == 401
    assert response.content_type == "application/json"
    # A mediator's token may read but not book.
    mediator = await bearer(app, registered["user:mediator"])
    response = await client.post(URL, json=booking_body(registered, 9), headers=mediator)
    assert response.status == 403
    assert await count(app, Appointment) == 0


async def test_mediators_of_the_organisation_subtree(app, client, booking_demo):
    headers = await bearer(app, booking_demo["user:coordinator"])
    response = await client.get("/api/v1/mediators", headers=headers)
    assert response.status == 200
    found = {m["id"]: m for m in (await response.json())["mediators"]}
    # The town coordinator sees the town's and the village's mediators, not the district expert.
    assert set(found) == {booking_demo["user:mediator"], booking_demo["user:mediator2"]}
    assert found[booking_demo["user:mediator"]]["role"] == "mediator"
    assert found[booking_demo["user:mediator"]]["org"]["id"] == booking_demo["org:town"]
    admin = await bearer(app, booking_demo["user:admin"])
    everyone = (await (await client.get("/api/v1/mediators", headers=admin)).json())["mediators"]
    assert {m["role"] for m in everyone} == {"mediator", "expert"}


async def test_create_case_through_the_api(app, client, booking_demo):
    headers = {**await bearer(app, booking_demo["user:coordinator"]), "Idempotency-Key": "case-1"}
    body = {
        "org_id": booking_demo["org:village"],
        "dispute_type": "lending",
        "description": "借款两万元到期未还，多次催要无果。",
        "applicant": {"name": "张三", "phone": "13900001111", "id_number": "11010519491231002X"},
        "respondent": {"name": "李四", "phone": "13900002222", "id_number": "320584198503150023"},
    }
    before = await count(app, Case)
    first = await client.post("/api/v1/cases", json=body, headers=headers)
    again = await client.post("/api/v1/cases", json=body, headers=headers)
    assert first.status == again.status == 201
    created = await first.json()
    assert created == await again.json() and created["status"] == "applied"
    assert await count(app, Case) == before + 1
    assert await count(app, Party, Party.case_id == created["id"]) == 2

    bad = {**body, "applicant": {**body["applicant"], "id_number": "110105194912310021"}}
    response = await client.post(
        "/api/v1/cases", json=bad, headers={**headers, "Idempotency-Key": "case-2"}
    )
    assert response.status == 422
    assert "applicant.id_number" in (await response.json())["fields"]
    wrong_type = {**body, "respondent": {**body["respondent"], "phone": 13900002222}}
    response = await client.post(
        "/api/v1/cases", json=wrong_type, headers=headers | {"Idempotency-Key": "c3"}
    )
    assert response.status == 422
    outside = {**body, "org_id": booking_demo["org:district"]}
    response = await client.post(
        "/api/v1/cases", json=outside, headers=headers | {"Idempotency-Key": "c4"}
    )
    assert response.status == 422 and "org_id" in (await response.json())["fields"]
    assert await count(app, Case) == before + 1


async def test_openapi_lists_every_booking_operation(client):
    response = await client.get("/api/v1/openapi.json")
    paths = (await response.json())["paths"]
    expected = {
        ("/api/v1/cases", "post"),
        ("/api/v1/mediators", "get"),
        ("/api/v1/mediators/{mediator_id}/slots", "get"),
        ("/api/v1/appointments", "post"),
    }
    for path, method in expected:
        operation = paths[path][method]
        assert operation["operationId"] and operation["responses"]
        assert any(code.startswith("2") for code in operation["responses"])
    assert "409" in paths["/api/v1/appointments"]["post"]["responses"]
    assert "requestBody" in paths["/api/v1/appointments"]["post"]


async def test_dates_outside_the_bookable_range_are_a_field_error(app, client, registered):
    from booking.forms import EARLIEST_DATE, LATEST_DATE

    headers = await bearer(app, registered["user:coordinator"])
    slots = f"/api/v1/mediators/{registered['user:mediator']}/slots"
    too_early = (EARLIEST_DATE - timedelta(days=1)).isoformat()
    too_late = (LATEST_DATE + timedelta(days=1)).isoformat()
    for query, field in (
        ("?from=0001-01-01", "from"),
        ("?from=9999-12-31", "from"),
        (f"?from={too_early}", "from"),
        (f"?from={too_late}", "from"),
        (f"?from={EARLIEST_DATE}&to=9999-12-31", "to"),
    ):
        response = await client.get(slots + query, headers=headers)
        assert response.status == 422, (query, await response.text())
        message = (await response.json())["fields"][field]
        assert message["en"] == "Please give a date from 2000-01-01 to 2099-12-31."
        assert message["zh_CN"] != message["en"]
    for query in (f"?from={EARLIEST_DATE}", f"?from={LATEST_DATE}&to={LATEST_DATE}"):
        response = await client.get(slots + query, headers=headers)
        assert response.status == 200, query
        assert (await response.json())["slots"] == []
    for empty in ("?from=", "?to=", "?minutes=", "?minutes=%20"):
        response = await client.get(slots + empty, headers=headers)
        assert response.status == 422, empty
        assert empty[1:].split("=")[0] in (await response.json())["fields"]

    for start in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:30:00+08:00", "9999-12-31T23:30"):
        body = {**booking_body(registered, 9), "starts_at": start}
        response = await client.post(URL, json=body, headers=headers)
        assert response.status == 422, (start, await response.text())
        message = (await response.json())["fields"]["starts_at"]["en"]
        assert message == "Please give a date from 2000-01-01 to 2099-12-31."
    assert await count(app, Appointment) == 0
