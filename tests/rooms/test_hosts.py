"""Parties never meet without a host; admission belongs to a browser session; a lock lets people
knock; a concluded case's room is closed; a revoked session loses its socket. Real sockets, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update

from app.db import sessionmaker_key, transaction, utcnow
from app.models import Case, Party, WebSession
from app.revocation import Revoked, announce_revoked
from rooms.models import Room, RoomMember
from rooms.protocol import CLOSE_CODES
from tests.people import login, post_form
from tests.rooms.conftest import Member, join, open_socket, party_browser


async def trio(mediator: Any, applicant: Any, respondent: Any, room: int) -> list[Member]:
    """Mediator, applicant and respondent connected and admitted; every queue drained."""
    med, _ = await join(mediator, room)
    a, _ = await join(applicant, room)
    b, _ = await join(respondent, room)
    for party in (a, b):
        await med.send(type="admit", member=party.you["id"])
        await party.expect("admitted")
    for member in (med, a, b):
        await member.quiet()
    return [med, a, b]


async def set_case_status(app: Any, case_id: int, status: str) -> None:
    # The court's decision moves the case for real (documents); here it is set directly.
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        case.status = status


async def party_session(app: Any, case_id: int, role: str) -> tuple[str, int]:
    """The party's principal key and its newest web session id."""
    async with app[sessionmaker_key]() as db:
        party = await db.scalar(select(Party).where(Party.case_id == case_id, Party.role == role))
        assert party is not None
        session = await db.scalar(
            select(WebSession.id)
            .where(WebSession.party_id == party.id)
            .order_by(WebSession.id.desc())
        )
        assert session is not None
        return f"party:{party.id}", session


async def revoke(app: Any, session: int) -> None:
    """Revokes one web session in the database, as logout or a reissued link does."""
    async with transaction(app) as db:
        await db.execute(
            update(WebSession).where(WebSession.id == session).values(revoked_at=utcnow())
        )


def since(member: Member, count: int, kind: str) -> list[dict[str, Any]]:
    return [m for m in member.seen[count:] if m["type"] == kind]


async def test_parties_wait_when_the_mediator_leaves_and_return_with_it(
    mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    med_id, a_id, b_id = med.you["id"], a.you["id"], b.you["id"]
    marks = {a_id: len(a.seen), b_id: len(b.seen)}
    await med.ws.close()
    for me, other in ((a, b_id), (b, a_id)):
        waiting = await me.expect("waiting")
        assert waiting["reason"] == "no-host" and waiting["you"]["admission"] == "admitted"
        left = {
            m["member"]["id"]: m["reason"] for m in since(me, marks[me.you["id"]], "member-left")
        }
        assert left == {med_id: "disconnected", other: "no-host"}
    # Nothing passes between the parties while no host is there.
    await a.send(type="signal", to=b_id, description={"type": "offer", "sdp": "v=0"})
    assert (await a.expect("error"))["code"] == "not-reachable"
    assert [m for m in await b.quiet() if m["type"] == "signal"] == []

    # A party (re)joining while no host is online lands in the same waiting state.
    await a.ws.close()
    a, welcome = await join(applicant, room)
    assert welcome["you"]["admission"] == "admitted" and welcome["members"] == []
    assert (await a.expect("waiting"))["reason"] == "no-host"
    assert [m for m in await b.quiet() if m["type"] == "member-joined"] == []

    # The mediator is back: it calls both; of the parties, the higher id calls the other.
    med, med_welcome = await join(mediator, room)
    assert sorted(m["id"] for m in med_welcome["members"]) == [a_id, b_id]
    lower, higher = (a, b) if a_id < b_id else (b, a)
    assert (await lower.expect("admitted"))["members"] == []
    assert [m["id"] for m in (await higher.expect("admitted"))["members"]] == [lower.you["id"]]
    await higher.send(type="signal", to=lower.you["id"], description={"type": "offer", "sdp": "x"})
    assert (await lower.expect("signal"))["from"]["id"] == higher.you["id"]


async def test_a_coordinator_also_hosts(app, browsers, mediator, applicant, respondent, room):
    med, a, b = await trio(mediator, applicant, respondent, room)
    coordinator = await browsers()
    await login(coordinator, "coordinator")
    coord, _ = await join(coordinator, room)
    await a.expect("member-joined")
    await med.ws.close()
    assert (await a.expect("member-left"))["member"]["id"] == med.you["id"]
    assert [m["type"] for m in await a.quiet()] == []  # still with the other party
    await a.send(type="signal", to=b.you["id"], candidate={"candidate": "c"})
    assert (await b.expect("signal"))["candidate"]["candidate"] == "c"
    await coord.ws.close()
    assert (await b.expect("waiting"))["reason"] == "no-host"


async def test_a_new_web_session_knocks_again(app, browsers, mediator, applicant, room, demo):
    (
        med,
        party,
    ) = (await join(mediator, room))[0], (await join(applicant, room))[0]
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    # The same party opens a freshly issued link on another phone: a new web session.
    phone = await party_browser(browsers, app, demo["case"], "applicant")
    again, welcome = await join(phone, room)
    assert welcome["you"]["id"] == party.you["id"]
    assert welcome["you"]["admission"] == "waiting" and welcome["members"] == []
    assert (await again.expect("waiting"))["reason"] == "lobby"
    assert (await party.expect("error"))["code"] == "replaced"
    lobby = await med.expect("lobby")
    while lobby["waiting"] == []:
        lobby = await med.expect("lobby")
    assert [m["id"] for m in lobby["waiting"]] == [party.you["id"]]
    # Admitted from the new session, a reload of that session walks straight back in.
    await med.send(type="admit", member=party.you["id"])
    await again.expect("admitted")
    await again.ws.close()
    _back, reload = await join(phone, room)
    assert reload["you"]["admission"] == "admitted"


async def test_a_locked_room_takes_knocks_after_its_mediator_left(
    app, browsers, mediator, applicant, room
):
    med, _ = await join(mediator, room)
    await med.send(type="lock")
    await med.expect("room-state")
    await med.ws.close()
    party, welcome = await join(applicant, room)
    assert welcome["you"]["admission"] == "waiting" and welcome["room"]["state"] == "locked"
    assert (await party.expect("waiting"))["reason"] == "lobby"
    coordinator = await browsers()
    await login(coordinator, "coordinator")
    staff, staff_welcome = await join(coordinator, room)
    assert staff_welcome["you"]["admission"] == "waiting"  # a lock makes staff knock too
    med, _ = await join(mediator, room)
    lobby = await med.expect("lobby")
    assert [m["id"] for m in lobby["waiting"]] == [welcome["you"]["id"], staff.you["id"]]
    await med.send(type="admit", member=welcome["you"]["id"])
    assert [m["id"] for m in (await party.expect("admitted"))["members"]] == [med.you["id"]]


async def test_a_concluded_case_closes_its_room(app, client, mediator, applicant, room, demo):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    await set_case_status(app, demo["case"], "confirmed")
    await party.ws.close()
    again = Member(await open_socket(applicant, room))
    await again.send(type="join")
    assert (await again.expect("error"))["code"] == "room-closed"
    assert await again.closed() == CLOSE_CODES["room-closed"]
    # The mediator, still connected, is told and let go.
    assert (await med.expect("room-state"))["state"] == "closed"
    assert await med.closed() == CLOSE_CODES["room-closed"]
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(Room.state).where(Room.id == room)) == "closed"
    for path in (f"/cases/{demo['case']}/room", f"/rooms/{room}"):
        response = await applicant.get(path, allow_redirects=False)
        assert response.status == 410, path
        assert "该调解室已关闭" in await response.text()
    page = await (await applicant.get(f"/cases/{demo['case']}")).text()
    assert "本案的调解室已关闭" in page and 'data-action="enter-room"' not in page
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(Room.id).where(Room.state != "closed")) is None


async def test_entering_a_dismissed_case_creates_no_room(app, client, demo):
    await set_case_status(app, demo["case"], "dismissed")
    await login(client, "coordinator")
    response = await client.get(f"/cases/{demo['case']}/room", allow_redirects=False)
    assert response.status == 410
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(Room.id)) is None


@pytest.mark.parametrize(
    "message",
    [
        {"type": "admit", "member": 2**31},
        {"type": "remove", "member": 2**31},
        {"type": "move", "member": 2**31, "subroom": "caucus"},
        {"type": "signal", "to": 2**31, "candidate": {"candidate": "c"}},
        {"type": "admit", "member": 10**30},
    ],
)
async def test_member_ids_beyond_the_database_are_invalid(mediator, room, message):
    med, _ = await join(mediator, room)
    await med.send(**message)
    assert (await med.expect("error"))["code"] == "invalid-message"
    await med.send(type="admit", member=2**31 - 1)  # the largest id is merely unknown
    assert (await med.expect("error"))["code"] == "no-such-member"
    assert [m for m in await med.quiet() if m.get("code") == "server-error"] == []


async def test_sub_room_names_are_ascii(mediator, applicant, room):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    await med.send(type="move", member=party.you["id"], subroom="调解室")
    assert (await med.expect("error"))["code"] == "invalid-message"


async def test_a_revoked_session_loses_its_socket(app, mediator, applicant, room, demo):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    key, session = await party_session(app, demo["case"], "applicant")
    await revoke(app, session)
    await announce_revoked(app, Revoked(principals=(key,), session_ids=(session,)))
    assert (await party.expect("error"))["code"] == "not-authenticated"
    assert await party.closed() == CLOSE_CODES["not-authenticated"]
    await med.send(type="ping")
    await med.expect("pong")


async def test_a_session_revoked_before_join_is_refused(app, applicant, room, demo):
    socket = Member(await open_socket(applicant, room))  # authenticated at the upgrade
    _key, session = await party_session(app, demo["case"], "applicant")
    await revoke(app, session)
    await socket.send(type="join")
    assert (await socket.expect("error"))["code"] == "not-authenticated"
    assert await socket.closed() == CLOSE_CODES["not-authenticated"]


async def test_a_revocation_under_way_when_a_party_joins_refuses_the_join(
    app, applicant, room, demo
):
    """The revocation has written but not committed when the join starts. PostgreSQL: the join
    waits on the session row's lock and then reads it revoked; SQLite: the join reads it before
    the commit, waits for the write lock and reads it again after its own write. Either way the
    join is refused before its member row commits (else the revocation, announced before that
    commit, could miss the socket)."""
    key, session = await party_session(app, demo["case"], "applicant")
    socket = Member(await open_socket(applicant, room))
    async with transaction(app) as db:
        await db.execute(
            update(WebSession).where(WebSession.id == session).values(revoked_at=utcnow())
        )
        await socket.send(type="join")
        await asyncio.sleep(0.5)  # the join now waits for this transaction
    await announce_revoked(app, Revoked(principals=(key,), session_ids=(session,)))
    assert (await socket.expect("error"))["code"] == "not-authenticated"
    assert await socket.closed() == CLOSE_CODES["not-authenticated"]
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(select(RoomMember.principal).where(RoomMember.room_id == room))
        assert key not in list(rows)


async def test_logging_out_closes_the_room_socket(mediator, room):
    med, _ = await join(mediator, room)
    response = await post_form(mediator, "/logout", {}, allow_redirects=False)
    assert response.status == 303
    assert (await med.expect("error"))["code"] == "not-authenticated"
    assert await med.closed() == CLOSE_CODES["not-authenticated"]


async def test_reissuing_a_link_closes_the_old_sessions_room_socket(
    app, browsers, mediator, applicant, room, demo
):
    """「发送新链接」 over HTTP: the party's open room socket is closed at once."""
    party, _ = await join(applicant, room)
    coordinator = await browsers()
    await login(coordinator, "coordinator")
    response = await post_form(
        coordinator, f"/cases/{demo['case']}/invitations", {}, allow_redirects=False
    )
    assert response.status == 200
    assert (await party.expect("error"))["code"] == "not-authenticated"
    assert await party.closed() == CLOSE_CODES["not-authenticated"]


async def test_the_courts_ruling_closes_the_live_room_at_once(app, browsers, demo):
    """The judge confirms over the API while mediator and party are in the room: both sockets
    are told and closed, without anyone entering again."""
    from app.auth import create_api_token
    from tests.builders import accepted
    from tests.rooms.conftest import make_room, party_browser

    filing_id = await accepted(app, demo)
    async with app[sessionmaker_key]() as db:
        case_id = await db.scalar(select(Case.id).order_by(Case.id.desc()))
    assert case_id is not None
    room_id = await make_room(app, case_id)
    mediator = await browsers()
    await login(mediator, "mediator")
    med, _ = await join(mediator, room_id)
    party, _ = await join(await party_browser(browsers, app, case_id, "applicant"), room_id)
    async with transaction(app) as db:
        token = await create_api_token(db, demo["user:judge"], "test")
    ruling = await mediator.post(
        f"/api/v1/court/filings/{filing_id}/decision",
        json={"decision": "confirmed"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert ruling.status == 200
    for member in (med, party):
        assert (await member.expect("room-state"))["state"] == "closed"
        assert await member.closed() == CLOSE_CODES["room-closed"]
