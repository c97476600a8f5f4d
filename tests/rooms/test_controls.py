"""Media state, a host's requests, calling the host, recording consent and ending the session:
real sockets of the test server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import CaseEvent
from rooms.models import Room
from rooms.protocol import CLOSE_CODES
from tests.people import login
from tests.rooms.conftest import Member, join
from tests.rooms.test_hosts import trio


async def caucus(med: Member, a: Member, b: Member) -> None:
    """The mediator takes A into `caucus`; B stays, alone, in the joint session."""
    await med.send(type="move", member=a.you["id"], subroom="caucus")
    await a.expect("waiting")
    await med.send(type="move", member=med.you["id"], subroom="caucus")
    await med.expect("moved")
    await a.expect("admitted")
    await b.expect("waiting")
    for member in (med, a, b):
        await member.quiet()


def types(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages]


async def test_welcome_carries_the_new_member_fields(mediator, room):
    _med, welcome = await join(mediator, room)
    you = welcome["you"]
    assert you["media"] == {"audio": False, "video": False, "screen": False}
    assert you["audioOnly"] is False and you["hand"] is False and you["quality"] is None
    assert you["consent"] is False
    assert welcome["room"]["opensAt"] is None and welcome["room"]["recording"] is False
    assert welcome["chat"] == []


async def test_media_quality_and_hand_reach_those_who_see_me(mediator, applicant, respondent, room):
    med, a, b = await trio(mediator, applicant, respondent, room)
    await a.send(type="media", audio=True, video=False, screen=False, audioOnly=True)
    for member in (med, a, b):
        updated = await member.expect("member-updated")
        assert updated["member"]["id"] == a.you["id"]
        assert updated["member"]["media"] == {"audio": True, "video": False, "screen": False}
        assert updated["member"]["audioOnly"] is True
    await a.send(type="media", audio=True, video=False, screen=False, audioOnly=True)
    assert await med.quiet() == []  # nothing changed, nothing sent
    await a.send(type="quality", level="poor")
    assert (await b.expect("member-updated"))["member"]["quality"] == "poor"
    assert (await med.expect("member-updated"))["member"]["quality"] == "poor"
    await a.send(type="hand", raised=True)
    assert (await med.expect("member-updated"))["member"]["hand"] is True

    await caucus(med, a, b)
    await a.send(type="hand", raised=False)
    assert (await med.expect("member-updated"))["member"]["hand"] is False
    assert "member-updated" not in types(await b.quiet())  # never across sub-rooms
    # Whoever arrives later reads the state from the database (another process could serve them).
    await med.send(type="move", member=a.you["id"], subroom="main")
    await med.send(type="move", member=med.you["id"], subroom="main")
    admitted = await b.expect("admitted")
    seen = {
        m["id"]: m
        for m in [
            *admitted["members"],
            *[x["member"] for x in b.seen if x["type"] == "member-joined"],
        ]
    }
    joined = seen.get(a.you["id"]) or (await b.expect("member-joined"))["member"]
    assert joined["audioOnly"] is True and joined["quality"] == "poor"


async def test_invalid_state_messages_are_refused(mediator, room):
    med, _ = await join(mediator, room)
    for bad in (
        {"type": "media", "audio": 1, "video": False, "screen": False, "audioOnly": False},
        {"type": "media", "audio": True},
        {"type": "quality", "level": "excellent"},
        {"type": "hand", "raised": "yes"},
        {"type": "ask", "member": med.you["id"], "what": "leave"},
        {"type": "consent"},
        {"type": "record", "on": None},
    ):
        await med.send(**bad)
        assert (await med.expect("error"))["code"] == "invalid-message", bad
    await med.send(type="ping")
    await med.expect("pong")


async def test_only_hosts_ask_and_mute(mediator, applicant, respondent, room):
    med, a, b = await trio(mediator, applicant, respondent, room)
    for message in (
        {"type": "ask", "member": b.you["id"], "what": "mute"},
        {"type": "mute", "member": b.you["id"]},
        {"type": "record", "on": True},
        {"type": "end"},
    ):
        await a.send(**message)
        error = await a.expect("error")
        assert error["code"] == "not-allowed" and error["about"] == message["type"]
    assert types(await b.quiet()) == []

    await med.send(type="ask", member=a.you["id"], what="camera-off")
    asked = await a.expect("asked")
    assert asked["what"] == "camera-off" and asked["from"]["id"] == med.you["id"]
    assert asked["from"]["role"] == "mediator"
    await med.send(type="mute", member=b.you["id"])
    assert (await b.expect("muted"))["by"]["id"] == med.you["id"]
    assert "muted" not in types(await a.quiet())
    # The party unmutes itself afterwards: always allowed.
    await b.send(type="media", audio=True, video=True, screen=False, audioOnly=False)
    assert (await med.expect("member-updated"))["member"]["media"]["audio"] is True

    await caucus(med, a, b)
    await med.send(type="mute", member=b.you["id"])  # B is not in the mediator's sub-room
    assert (await med.expect("error"))["code"] == "not-reachable"
    await med.send(type="mute", member=424242)
    assert (await med.expect("error"))["code"] == "no-such-member"


async def test_calling_the_host_reaches_it_in_another_sub_room(
    mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    await caucus(med, a, b)
    await b.send(type="call-host")  # B is held in the joint session, alone
    called = await med.expect("host-called")
    assert called["member"]["id"] == b.you["id"] and called["member"]["subroom"] == "main"
    assert "host-called" not in types(await a.quiet())


async def test_a_knock_cannot_call_the_host(mediator, applicant, room):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    await party.send(type="call-host")
    assert (await party.expect("error"))["code"] == "not-admitted"
    assert "host-called" not in types(await med.quiet())


async def test_recording_needs_everyones_consent_and_stops_on_withdrawal(
    app, demo, mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    await med.send(type="record", on=True)
    assert (await med.expect("error"))["code"] == "no-consent"
    for member in (med, a, b):
        await member.send(type="consent", recording=True)
        await member.expect("member-updated")
    for member in (med, a, b):
        await member.quiet()
    await med.send(type="record", on=True)
    for member in (med, a, b):
        recording = await member.expect("recording")
        assert recording["on"] is True and recording["by"]["id"] == med.you["id"]
    await b.send(type="consent", recording=False)
    for member in (med, a, b):
        stopped = await member.expect("recording")
        assert stopped["on"] is False and stopped["by"]["id"] == b.you["id"]
    async with app[sessionmaker_key]() as db:
        kinds = list(
            await db.scalars(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == demo["case"], CaseEvent.kind.like("room_%"))
                .order_by(CaseEvent.id)
            )
        )
    assert kinds.count("room_consent") == 4
    assert kinds[-3:] == ["room_recording_started", "room_consent", "room_recording_stopped"]


async def test_someone_without_consent_entering_stops_the_recording(
    mediator, applicant, respondent, room
):
    med, _ = await join(mediator, room)
    a, _ = await join(applicant, room)
    await med.send(type="admit", member=a.you["id"])
    await a.expect("admitted")
    for member in (med, a):
        await member.send(type="consent", recording=True)
    await med.expect("member-updated")
    await med.quiet()
    await med.send(type="record", on=True)
    await a.expect("recording")
    b, welcome = await join(respondent, room)
    assert welcome["room"]["recording"] is True
    await med.send(type="admit", member=b.you["id"])
    off = await b.expect("recording")
    assert off["on"] is False and off["by"] is None
    assert (await a.expect("recording"))["on"] is False


async def test_ending_closes_every_socket_and_the_room(
    app, demo, browsers, mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    coordinator = await browsers()
    await login(coordinator, "coordinator")
    coord, _ = await join(coordinator, room)
    await med.quiet()
    # Two hosts end at once: the room ends once, each member is told once.
    await asyncio.gather(med.send(type="end"), coord.send(type="end"))
    for member in (med, a, b, coord):
        assert await member.closed() == CLOSE_CODES["ended"]
        ended = [m for m in member.seen if m["type"] == "ended"]
        assert len(ended) == 1 and ended[0]["by"]["role"] in ("mediator", "coordinator")
    async with app[sessionmaker_key]() as db:
        kinds = list(
            await db.scalars(
                select(CaseEvent.kind).where(
                    CaseEvent.case_id == demo["case"], CaseEvent.kind == "room_ended"
                )
            )
        )
    assert kinds == ["room_ended"]
    # The case's room is shut for parties until another appointment is booked; staff may enter.
    page = await applicant.get(f"/cases/{demo['case']}/room", allow_redirects=False)
    new_room = int(page.headers["Location"].rsplit("/", 1)[1])
    assert new_room != room
    party = Member(
        await applicant.ws_connect(
            f"/rooms/{new_room}/ws", headers={"Origin": f"http://{applicant.host}:{applicant.port}"}
        )
    )
    await party.send(type="join")
    refused = await party.expect("error")
    assert refused["code"] == "not-open-yet" and refused["data"] == {"opensAt": None}
    assert await party.closed() == CLOSE_CODES["not-open-yet"]
    _again, welcome = await join(mediator, new_room)
    assert welcome["you"]["role"] == "mediator"


async def test_racing_record_and_withdrawal_never_record_without_consent(
    app, browsers, mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    coordinator = await browsers()
    await login(coordinator, "coordinator")
    coord, _ = await join(coordinator, room)
    everyone = (med, a, b, coord)
    for member in everyone:
        await member.send(type="consent", recording=True)
    await asyncio.sleep(0.5)
    for member in everyone:
        await member.quiet()
    # Two hosts start the recording while a party withdraws its consent, all at once.
    await asyncio.gather(
        med.send(type="record", on=True),
        coord.send(type="record", on=True),
        b.send(type="consent", recording=False),
    )
    await asyncio.sleep(1.0)
    seen = {id(m): [x for x in await m.quiet() if x["type"] == "recording"] for m in everyone}
    async with app[sessionmaker_key]() as db:
        state = await db.get(Room, room)
        assert state is not None
        recording = state.recording
    assert recording is False  # B withdrew: whichever came first, nothing is being recorded
    for member in everyone:
        ons = [x["on"] for x in seen[id(member)]]
        assert ons in ([], [True, False]), ons  # started at most once, then stopped
