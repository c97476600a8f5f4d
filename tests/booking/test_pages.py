"""The HTML pages: the coordinator's register → book → invite flow through to a party following
the link. (The application form: tests/booking/test_intake.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import sessionmaker_key
from app.i18n import translate
from app.jobs import run_pending
from app.models import Case, CaseEvent, Message, Party, PartyLink
from booking.models import Appointment, SlotClaim
from booking.slots import local_today
from tests.booking.setup_data import count, tomorrow_at
from tests.people import csrf, login, open_party_session, post_form

LINK = re.compile(r'value="(http://127\.0\.0\.1:8080/p/[A-Za-z0-9_-]{43})"')


def zh(message: str) -> str:
    return translate(message, "zh_CN")


async def test_register_book_invite_and_follow_the_link(app, client, booking_demo):
    ids, case_id = booking_demo, booking_demo["case"]
    await login(client, "coordinator")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert f'action="/cases/{case_id}/register"' in page

    response = await post_form(
        client,
        f"/cases/{case_id}/register",
        {"risk": "yellow", "complexity": "general", "tier": "town"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert f'action="/cases/{case_id}/book"' in page
    assert "吴松矛调字第0001号" in page

    day = (local_today() + timedelta(days=1)).isoformat()
    slots = await client.get(f"/cases/{case_id}/book?mediator_id={ids['user:mediator']}&date={day}")
    slots_page = await slots.text()
    assert slots.status == 200
    assert 'name="time" value="09:00"' in slots_page and 'name="time" value="16:30"' in slots_page
    assert 'name="time" value="17:00"' not in slots_page  # a 60-minute slot must fit the window

    booked = await post_form(
        client,
        f"/cases/{case_id}/appointments",
        {"mediator_id": ids["user:mediator"], "date": day, "time": "09:30", "minutes": "60"},
    )
    assert booked.status == 200, await booked.text()
    assert booked.headers["Cache-Control"] == "no-store"
    assert not LINK.findall(await booked.text())  # the outbox job makes and texts the links

    assert await run_pending(app) >= 2
    async with app[sessionmaker_key]() as db:
        sms = list(await db.scalars(select(Message).where(Message.case_id == case_id)))
    assert sorted(m.recipient for m in sms) == ["13787654321", "13912345678"]
    # Once handed to the gateway, the stored copy no longer holds the token.
    assert all("/p/••••" in m.body for m in sms)
    assert all("09:30" in m.body and "陈调解" in m.body for m in sms)

    # At the desk the coordinator sends new links to show them as QR codes.
    invitations = await (await post_form(client, f"/cases/{case_id}/invitations", {})).text()
    links = LINK.findall(invitations)
    assert len(links) == 2
    assert invitations.count("<svg") == 2 and 'class="segno"' in invitations
    assert " style=" not in invitations  # the CSP forbids inline styles

    # Tokens are stored only as hashes; the page for later visits shows none.
    async with app[sessionmaker_key]() as db:
        hashes = set(await db.scalars(select(PartyLink.token_hash)))
    assert not any(link.rsplit("/", 1)[1] in hashes for link in links)
    later = await (await client.get(f"/cases/{case_id}/invitations")).text()
    assert "/p/" not in later

    client.session.cookie_jar.clear()
    path = links[0].removeprefix("http://127.0.0.1:8080")
    redeemed = await client.get(path, allow_redirects=False)
    assert redeemed.status == 303 and redeemed.headers["Location"] == f"/cases/{case_id}"
    party_page = await client.get(f"/cases/{case_id}")
    assert party_page.status == 200 and "/p/" not in str(party_page.url)
    text = await party_page.text()
    assert "09:30" in text and "陈调解" in text
    assert f'action="/cases/{case_id}/register"' not in text


async def test_bad_date_on_the_booking_form_is_422_and_writes_nothing(app, client, registered):
    await login(client, "coordinator")
    path = f"/cases/{registered['case']}/appointments"
    base = {"mediator_id": registered["user:mediator"], "time": "09:00", "minutes": "60"}
    for date, time, field, message in (
        ("2026-02-30", "09:00", "date", "Please enter a valid date (YYYY-MM-DD)."),
        ("tomorrow", "09:00", "date", "Please enter a valid date (YYYY-MM-DD)."),
        (
            (local_today() + timedelta(days=1)).isoformat(),
            "25:00",
            "time",
            "Please enter a valid time (HH:MM).",
        ),
        (
            (local_today() + timedelta(days=1)).isoformat(),
            "09:10",
            "time",
            "Appointments start on the hour or on the half hour.",
        ),
        (
            (local_today() - timedelta(days=2)).isoformat(),
            "09:00",
            "time",
            "This time is in the past. Please choose a future time.",
        ),
    ):
        response = await post_form(client, path, {**base, "date": date, "time": time})
        assert response.status == 422, (date, time)
        page = await response.text()
        assert zh(message) in page and f'id="{field}-error"' in page
    query = await client.get(f"/cases/{registered['case']}/book?mediator_id=1&date=2026-13-01")
    assert query.status == 422
    assert await count(app, Appointment) == 0 and await count(app, SlotClaim) == 0
    assert await count(app, CaseEvent, CaseEvent.kind == "booked") == 0


async def test_taken_slot_on_the_form_is_409_with_the_message(app, client, registered):
    await login(client, "coordinator")
    day = (local_today() + timedelta(days=1)).isoformat()
    form = {"mediator_id": registered["user:mediator"], "date": day, "time": "10:00"}
    assert (
        await post_form(client, f"/cases/{registered['case']}/appointments", form)
    ).status == 200
    clash = {**form, "time": "10:30"}
    response = await post_form(client, f"/cases/{registered['case']}/appointments", clash)
    assert response.status == 409
    assert zh("This time is already taken. Please choose another slot.") in await response.text()
    assert await count(app, Appointment) == 1


async def test_reissue_revokes_the_old_link(app, client, registered):
    await login(client, "coordinator")
    case_id = registered["case"]
    day = (local_today() + timedelta(days=1)).isoformat()
    form = {"mediator_id": registered["user:mediator"], "date": day, "time": "14:00"}
    assert (await post_form(client, f"/cases/{case_id}/appointments", form)).status == 200
    old = LINK.findall(await (await post_form(client, f"/cases/{case_id}/invitations", {})).text())
    async with app[sessionmaker_key]() as db:
        applicant = await db.scalar(
            select(Party).where(Party.case_id == case_id, Party.role == "applicant")
        )
    assert applicant is not None
    response = await post_form(client, f"/cases/{case_id}/invitations", {"party_id": applicant.id})
    assert response.status == 200
    new = LINK.findall(await response.text())
    assert len(new) == 1 and new[0] not in old
    await run_pending(app)
    # the booking's SMS (sent by its outbox job), the first links, the new link
    assert await count(app, Message, Message.recipient == applicant.phone) == 3

    client.session.cookie_jar.clear()
    prefix = "http://127.0.0.1:8080"
    stale = await client.get(old[0].removeprefix(prefix), allow_redirects=False)
    assert stale.status == 410
    other_party = await client.get(old[1].removeprefix(prefix), allow_redirects=False)
    assert other_party.status == 303  # only the applicant's link was replaced
    fresh = await client.get(new[0].removeprefix(prefix), allow_redirects=False)
    assert fresh.status == 303


async def test_cancel_frees_the_cells(app, client, registered):
    await login(client, "coordinator")
    case_id = registered["case"]
    day = (local_today() + timedelta(days=1)).isoformat()
    form = {"mediator_id": registered["user:mediator"], "date": day, "time": "11:00"}
    assert (await post_form(client, f"/cases/{case_id}/appointments", form)).status == 200
    async with app[sessionmaker_key]() as db:
        appointment = await db.scalar(select(Appointment))
    assert appointment is not None
    cancel = f"/cases/{case_id}/appointments/{appointment.id}/cancel"
    response = await post_form(client, cancel, {}, allow_redirects=False)
    assert response.status == 303
    assert await count(app, SlotClaim) == 0
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        cancelled = await db.get(Appointment, appointment.id)
    assert case is not None and case.status == "accepted"  # lifecycle: back to ACCEPTED
    assert cancelled is not None and cancelled.status == "cancelled"
    assert (await post_form(client, cancel, {})).status == 409
    # The freed time can be booked again.
    assert (await post_form(client, f"/cases/{case_id}/appointments", form)).status == 200
    assert await count(app, Appointment, Appointment.status == "booked") == 1
    async with app[sessionmaker_key]() as db:
        cells = list(await db.scalars(select(SlotClaim.cell_start).order_by(SlotClaim.cell_start)))
    assert cells == [tomorrow_at(11), tomorrow_at(11, 30)]


async def test_parties_and_strangers_may_not_act(app, client, registered):
    case_id = registered["case"]
    await open_party_session(client, app, case_id, "applicant")
    for path, data in (
        (f"/cases/{case_id}/register", {"risk": "red", "complexity": "simple", "tier": "town"}),
        (
            f"/cases/{case_id}/appointments",
            {"mediator_id": registered["user:mediator"], "date": "2030-01-01", "time": "09:00"},
        ),
        (f"/cases/{case_id}/invitations", {}),
    ):
        response = await post_form(client, path, data)
        assert response.status == 403, path
    assert (await client.get(f"/cases/{case_id}/book")).status == 403

    client.session.cookie_jar.clear()
    await login(client, "mediator2")
    assert (await client.get(f"/cases/{case_id}")).status == 404
    assert (await client.get(f"/cases/{case_id}/invitations")).status == 404

    client.session.cookie_jar.clear()
    await login(client, "coordinator")
    token = await csrf(client)
    day = (local_today() + timedelta(days=1)).isoformat()
    response = await client.post(
        f"/cases/{case_id}/appointments",
        data={
            "mediator_id": registered["user:mediator"],
            "date": day,
            "time": "09:00",
            "_csrf": token,
        },
        headers={"Origin": "http://evil.example"},
    )
    assert response.status == 403
    assert await count(app, Appointment) == 0


async def test_a_double_tap_on_a_slot_books_once(app, client, registered):
    await login(client, "coordinator")
    day = (local_today() + timedelta(days=1)).isoformat()
    form = {
        "mediator_id": registered["user:mediator"],
        "date": day,
        "time": "15:00",
        "submission_id": "tap-1",
    }
    path = f"/cases/{registered['case']}/appointments"
    first = await post_form(client, path, form)
    second = await post_form(client, path, form)
    assert first.status == second.status == 200
    assert not LINK.findall(await first.text())  # the links go by SMS, from the outbox job
    replay = await second.text()
    assert not LINK.findall(replay)  # links are never stored, so a replay cannot show them
    assert (
        zh(
            "This booking was already made. Its links were shown once; "
            "send new links below if you need them again."
        )
        in replay
    )
    assert await count(app, Appointment) == 1
