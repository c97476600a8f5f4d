"""The appointment clinic (预约门诊): 200 concurrent requests for a session of six places give
exactly six; SMS codes, the texted time and link, cancelling frees the place; staff create
sessions and see their list; bad input stores nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event, select, update

from app.db import engine_key, sessionmaker_key, transaction
from booking.models import DutyPlace, DutySession
from tests.booking.clinic_data import CODE, codes_for, duty_session, texts_to
from tests.booking.setup_data import bearer, count, tomorrow_at
from tests.people import login, post_form
from tests.pool_watch import pool_use

PLACES = "/api/v1/clinic/places"


async def test_two_hundred_concurrent_requests_for_six_places_six_win(app, client, demo):
    session_id = await duty_session(app, demo, tomorrow_at(9))
    phones = [f"139{i:08d}" for i in range(200)]
    codes = await codes_for(app, phones)

    async def attempt(phone: str) -> int:
        body = {
            "session_id": session_id,
            "name": "测试",
            "phone": phone,
            "phone_code": codes[phone],
        }
        response = await client.post(PLACES, json=body, headers={"Idempotency-Key": phone})
        await response.read()
        return response.status

    statuses = await asyncio.gather(*(attempt(phone) for phone in phones))
    assert statuses.count(201) == 6 and set(statuses) <= {201, 409, 503}, statuses
    async with app[sessionmaker_key]() as db:
        places = sorted(
            await db.scalars(select(DutyPlace.place).where(DutyPlace.status == "booked"))
        )
        session = await db.get(DutySession, session_id)
    assert places == [0, 1, 2, 3, 4, 5] and session is not None and session.booked == 6


async def test_book_with_the_code_get_the_time_by_sms_and_cancel_by_the_link(app, client, demo):
    session_id = await duty_session(app, demo, tomorrow_at(9), capacity=1)
    phone, other = "13900000001", "13900000002"
    sent = await client.post("/api/v1/clinic/codes", json={"phone": phone})
    assert sent.status == 202
    codes = await codes_for(app, [other])
    [text] = await texts_to(app, phone)
    found = CODE.search(text)
    assert found is not None
    code = found.group(1)
    wrong = await client.post(
        PLACES,
        json={"session_id": session_id, "name": "王五", "phone": phone, "phone_code": "000000"},
    )
    assert wrong.status == 400 and await count(app, DutyPlace) == 0
    body = {"session_id": session_id, "name": "王五", "phone": phone, "phone_code": code}
    booked = await client.post(PLACES, json=body)
    assert booked.status == 201, await booked.text()
    answer = await booked.json()
    assert answer["place"] == 1 and "token" not in answer and "link" not in str(answer)
    confirmation = (await texts_to(app, phone))[-1]
    assert "09:00" in confirmation and "/clinic/p/" in confirmation
    token = confirmation.rsplit("/clinic/p/", 1)[1].split()[0]

    full = await client.post(
        PLACES,
        json={"session_id": session_id, "name": "赵六", "phone": other, "phone_code": codes[other]},
    )
    assert full.status == 409
    problem = await full.json()
    assert problem["messages"]["zh_CN"] and problem["messages"]["en"].startswith("This session")

    page = await client.get(f"/clinic/p/{token}")
    assert page.status == 200 and "cancel-place" in await page.text()
    assert (await client.get(f"/clinic/p/{'y' * 43}")).status == 404
    stranger = await client.post("/api/v1/clinic/cancellations", json={"token": "x" * 43})
    assert stranger.status == 404
    cancelled = await client.post("/api/v1/clinic/cancellations", json={"token": token})
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    again = await client.post("/api/v1/clinic/cancellations", json={"token": token})
    assert again.status == 409
    async with app[sessionmaker_key]() as db:
        session = await db.get(DutySession, session_id)
    assert session is not None and session.booked == 0

    codes = await codes_for(app, ["13900000003"])
    freed = await client.post(
        PLACES,
        json={
            "session_id": session_id,
            "name": "赵六",
            "phone": "13900000003",
            "phone_code": codes["13900000003"],
        },
    )
    assert freed.status == 201 and (await freed.json())["place"] == 1
    async with transaction(app) as db:  # the session is over: its links open nothing
        await db.execute(
            update(DutySession).values(
                starts_at=tomorrow_at(9) - timedelta(days=3),
                ends_at=tomorrow_at(11) - timedelta(days=3),
            )
        )
    assert (await client.get(f"/clinic/p/{token}")).status == 410


async def test_staff_create_sessions_and_see_the_list_and_bad_input_stores_nothing(
    app, client, demo
):
    admin = await bearer(app, demo["user:admin"])
    url = "/api/v1/clinic/sessions"
    good = {
        "staff_id": demo["user:expert"],
        "kind": "judge",
        "starts_at": tomorrow_at(9).isoformat(),
        "capacity": 6,
        "place_minutes": 20,
    }
    for bad, field in (
        ({**good, "starts_at": (tomorrow_at(9) - timedelta(days=3)).isoformat()}, "starts_at"),
        ({**good, "starts_at": tomorrow_at(9, 10).isoformat()}, "starts_at"),
        ({**good, "capacity": 0}, "capacity"),
        ({**good, "capacity": 30, "place_minutes": 60}, "capacity"),
        ({**good, "place_minutes": 25}, "place_minutes"),
        ({**good, "kind": "priest"}, "kind"),
        ({**good, "starts_at": "9999-12-31T23:30:00+08:00"}, "starts_at"),
        ({**good, "staff_id": demo["user:clerk"]}, "staff_id"),
    ):
        response = await client.post(url, json=bad, headers=admin)
        assert response.status == 422, (bad, await response.text())
        assert field in (await response.json())["fields"]
    coordinator = await bearer(app, demo["user:coordinator"])
    # The expert belongs to the district: a town coordinator may not schedule them.
    outside = await client.post(url, json=good, headers=coordinator)
    assert outside.status == 422 and await count(app, DutySession) == 0

    created = await client.post(url, json=good, headers={**admin, "Idempotency-Key": "s1"})
    assert created.status == 201, await created.text()
    session = await created.json()
    assert session["free"] == 6 and session["ends_at"] == (tomorrow_at(11)).isoformat()
    replay = await client.post(url, json=good, headers={**admin, "Idempotency-Key": "s1"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert await count(app, DutySession) == 1

    listed = await (await client.get(url)).json()
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    codes = await codes_for(app, ["13900000009"])
    booked = await client.post(
        PLACES,
        json={
            "session_id": session["id"],
            "name": "钱七",
            "phone": "13900000009",
            "phone_code": codes["13900000009"],
        },
    )
    assert booked.status == 201
    places = await client.get(f"{url}/{session['id']}/places", headers=admin)
    listing = await places.json()
    assert [(p["place"], p["name"]) for p in listing["places"]] == [(1, "钱七")]
    assert listing["places"][0]["phone"] != "13900000009"  # masked
    hidden = await client.get(f"{url}/{session['id']}/places", headers=coordinator)
    assert hidden.status == 404
    anonymous = await client.get(f"{url}/{session['id']}/places")
    assert anonymous.status == 401


async def test_staff_schedule_a_session_in_the_browser_form_and_see_its_list(
    app, client, new_client, demo
):
    await login(client, "admin")
    day = tomorrow_at(9).date().isoformat()
    form = {"staff_id": str(demo["user:expert"]), "kind": "lawyer", "date": day, "time": "09:00"}
    bad = await post_form(client, "/clinic/sessions", {**form, "capacity": "0"})
    assert bad.status == 422 and 'aria-invalid="true"' in await bad.text()
    assert await count(app, DutySession) == 0
    created = await post_form(
        client, "/clinic/sessions", {**form, "capacity": "6", "place_minutes": "20"}
    )
    assert created.status == 200 and "/clinic/sessions/" in str(created.url)
    async with app[sessionmaker_key]() as db:
        session = (await db.scalars(select(DutySession))).one()
    assert session.capacity == 6 and session.starts_at == tomorrow_at(9)
    phone = "13900000011"
    codes = await codes_for(app, [phone])
    body = {"session_id": session.id, "name": "周九", "phone": phone, "phone_code": codes[phone]}
    party = await new_client()  # no staff cookie: a member of the public
    assert (await party.post(PLACES, json=body)).status == 201
    page = await (await client.get(f"/clinic/sessions/{session.id}")).text()
    assert "周九" in page and phone not in page and "139****0011" in page
    listing = await (await client.get("/clinic/sessions")).text()
    assert f"/clinic/sessions/{session.id}" in listing

    town = await new_client()
    await login(town, "coordinator")  # the session is the district's: not theirs to see
    assert (await town.get(f"/clinic/sessions/{session.id}")).status == 404


async def test_a_place_costs_the_same_statements_however_full_the_session(app, client, demo):
    session_id = await duty_session(app, demo, tomorrow_at(9), capacity=40)
    phones = [f"1380000{i:04d}" for i in range(30)]
    codes = await codes_for(app, phones)
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    def body(phone: str) -> dict:
        return {"session_id": session_id, "name": "测", "phone": phone, "phone_code": codes[phone]}

    async def book(phone: str) -> int:
        engine = app[engine_key].sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            response = await client.post(PLACES, json=body(phone))
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert response.status == 201
        counted = len(seen)
        seen.clear()
        return counted

    first = await book(phones[0])
    for phone in phones[1:-1]:
        assert (await client.post(PLACES, json=body(phone))).status == 201
    assert await book(phones[-1]) == first <= 12


async def test_a_double_tap_on_the_form_books_one_place(app, client, demo):
    session_id = await duty_session(app, demo, tomorrow_at(9))
    phone = "13900000021"
    codes = await codes_for(app, [phone])
    form = {
        "action": "book",
        "session_id": str(session_id),
        "name": "吴十",
        "phone": phone,
        "phone_code": codes[phone],
        "submission_id": "tap-1",
    }
    first = await post_form(client, "/clinic", form)
    second = await post_form(client, "/clinic", form)
    assert first.status == second.status == 200
    assert "cancel-place" in await first.text()  # the holder's own answer: it may cancel
    assert 'id="place-time"' in await second.text()
    assert await count(app, DutyPlace) == 1

    full_form = {**form, "submission_id": "tap-2", "phone_code": "123456"}
    wrong = await post_form(client, "/clinic", full_form)
    assert wrong.status == 400 and 'id="phone_code-error"' in await wrong.text()
    assert await count(app, DutyPlace) == 1


async def test_a_booking_holds_one_pool_connection_at_a_time(app, client, demo):
    """A request that held a connection while it waited for a second could, 200 at once, take
    the whole pool and wait for ever (CI saw it): the code's own transaction and the lookup of
    the idempotency key each have the pool to themselves."""
    session_id = await duty_session(app, demo, tomorrow_at(9))
    phone = "13900000009"
    codes = await codes_for(app, [phone])
    body = {"session_id": session_id, "name": "测试", "phone": phone, "phone_code": codes[phone]}
    with pool_use(app) as use:
        booked = await client.post(PLACES, json=body, headers={"Idempotency-Key": "k1"})
        assert booked.status == 201, await booked.text()
    assert use.most == 1
