"""Signaling through real WebSockets of the test server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from rooms.protocol import CLOSE_CODES
from tests.builders import applications
from tests.rooms.conftest import Member, join, open_socket, origin, party_browser


async def admitted_pair(mediator: Any, applicant: Any, room: int) -> tuple[Member, Member, dict]:
    """Mediator and applicant both in the room; returns (mediator, party, party's welcome)."""
    med, _ = await join(mediator, room)
    party, welcome = await join(applicant, room)
    await med.expect("lobby")
    lobby = await med.expect("lobby")
    await med.send(type="admit", member=welcome["you"]["id"])
    await party.expect("admitted")
    assert lobby["waiting"][0]["id"] == welcome["you"]["id"]
    return med, party, welcome


async def test_anonymous_is_refused(client, room):
    ws = await open_socket(client, room)
    msg = await ws.receive_json(timeout=5)
    assert msg["type"] == "error" and msg["code"] == "not-authenticated"
    assert (
        set(msg["message"]) == {"zh_CN", "en"} and msg["message"]["zh_CN"] != msg["message"]["en"]
    )
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
    assert ws.close_code == CLOSE_CODES["not-authenticated"]


async def test_an_unknown_session_is_refused_at_the_join(client, room):
    """The session cookie is read with the join (rooms/arrival.py), not at the upgrade."""
    client.session.cookie_jar.update_cookies({"msid": "not-a-session"})
    member = Member(await open_socket(client, room))
    await member.send(type="join")
    assert (await member.expect("error"))["code"] == "not-authenticated"
    assert await member.closed() == CLOSE_CODES["not-authenticated"]


async def test_the_handshake_carries_no_page_security_headers(mediator, room):
    """A 101 protects no document, and each socket would keep its headers for its life."""
    handshake = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin": origin(mediator),
    }
    async with mediator.session.get(mediator.make_url(f"/rooms/{room}/ws"), headers=handshake) as r:
        assert r.status == 101
        assert "Content-Security-Policy" not in r.headers
        assert "X-Frame-Options" not in r.headers
    page = await mediator.get(f"/rooms/{room}")
    assert "Content-Security-Policy" in page.headers  # pages keep them


async def test_foreign_origin_is_refused_before_upgrade(mediator, room):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await mediator.ws_connect(f"/rooms/{room}/ws", headers={"Origin": "https://evil.example"})
    assert info.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await mediator.ws_connect(f"/rooms/{room}/ws")  # no Origin at all


async def test_party_of_another_case_is_refused(app, browsers, room, demo):
    (other_case,) = await applications(app, demo["org:town"])
    stranger = await party_browser(browsers, app, other_case, "applicant")
    member = Member(await open_socket(stranger, room))
    await member.send(type="join")  # the room and its case are read with the join
    error = await member.expect("error")
    assert error["code"] == "not-found"
    assert await member.closed() == CLOSE_CODES["not-found"]
    page = await stranger.get(f"/rooms/{room}")
    assert page.status == 404
    assert "/cases/" in await page.text()


async def test_party_waits_and_mediator_sees_the_lobby(mediator, applicant, room):
    med, med_welcome = await join(mediator, room)
    assert med_welcome["you"]["role"] == "mediator"
    assert med_welcome["you"]["admission"] == "admitted"
    assert (await med.expect("lobby"))["waiting"] == []
    party, welcome = await join(applicant, room)
    assert welcome["you"]["admission"] == "waiting" and welcome["members"] == []
    await party.expect("waiting")
    lobby = await med.expect("lobby")
    assert [m["name"] for m in lobby["waiting"]] == ["王秀兰"]
    # In the lobby a party can neither signal nor moderate.
    await party.send(type="signal", to=med_welcome["you"]["id"], description={"type": "offer"})
    assert (await party.expect("error"))["code"] == "not-admitted"
    await party.send(type="admit", member=welcome["you"]["id"])
    error = await party.expect("error")
    assert error["code"] == "not-allowed" and error["about"] == "admit"
    assert [m for m in await med.quiet() if m["type"] == "signal"] == []


async def test_admission_and_stamped_relay(mediator, applicant, room):
    med, med_welcome = await join(mediator, room)
    party, welcome = await join(applicant, room)
    await med.send(type="admit", member=welcome["you"]["id"])
    admitted = await party.expect("admitted")
    assert [m["id"] for m in admitted["members"]] == [med_welcome["you"]["id"]]
    assert admitted["you"]["admission"] == "admitted"
    joined = await med.expect("member-joined")
    assert joined["member"]["id"] == welcome["you"]["id"]
    assert (await med.expect("lobby"))["waiting"] == []

    # A client claiming to be someone else is ignored: the server's stamp travels instead.
    await party.send(
        type="signal",
        to=med_welcome["you"]["id"],
        **{"from": "staff:1", "role": "mediator", "name": "假冒"},
        description={"type": "offer", "sdp": "v=0\r\n", "evil": 1},
    )
    relayed = await med.expect("signal")
    assert relayed["from"]["id"] == welcome["you"]["id"]
    assert relayed["from"]["role"] == "party" and relayed["from"]["name"] == "王秀兰"
    assert relayed["description"] == {"type": "offer", "sdp": "v=0\r\n"}
    assert set(relayed) == {"type", "from", "description"}

    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
    await med.send(type="signal", to=welcome["you"]["id"], candidate=candidate)
    got = await party.expect("signal")
    assert got["from"]["role"] == "mediator"
    assert got["candidate"]["candidate"] == candidate["candidate"]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid-json"),
        ('{"type": "ping", "type": "admit"}', "invalid-json"),
        ('{"type": "teleport"}', "unknown-type"),
        ("[1, 2, 3]", "invalid-message"),
        ('{"type": 7}', "invalid-message"),
        ('{"type": "admit", "member": "1; DROP TABLE"}', "invalid-message"),
        ('{"type": "signal", "to": 1}', "invalid-message"),
        ('{"type": "join"}', "already-joined"),
        ("[" * 100_00 + "]" * 100_00, "invalid-json"),
    ],
)
async def test_bad_messages_get_errors_not_crashes(mediator, room, frame, code):
    med, _ = await join(mediator, room)
    await med.ws.send_str(frame)
    assert (await med.expect("error"))["code"] == code
    await med.send(type="ping")
    await med.expect("pong")


async def test_binary_and_oversize_frames(mediator, room):
    med, _ = await join(mediator, room)
    await med.ws.send_bytes(b"\x00\x01")
    assert (await med.expect("error"))["code"] == "invalid-message"
    await med.ws.send_str(json.dumps({"type": "ping", "pad": "x" * 70_000}))
    msg = await med.ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    again, _ = await join(mediator, room)  # the server is still there
    await again.send(type="ping")
    await again.expect("pong")


async def test_first_message_must_be_join(mediator, room):
    med = Member(await open_socket(mediator, room))
    await med.send(type="ping")
    assert (await med.expect("error"))["code"] == "join-first"
    await med.send(type="join")
    await med.expect("welcome")


async def test_reconnecting_party_returns_to_its_sub_room(mediator, applicant, room):
    med, party, welcome = await admitted_pair(mediator, applicant, room)
    party_id = welcome["you"]["id"]
    await med.send(type="move", member=party_id, subroom="caucus-a")
    # Alone in the caucus, without a host: the party waits there, still admitted.
    moved = await party.expect("waiting")
    assert moved["you"]["subroom"] == "caucus-a" and moved["reason"] == "no-host"
    assert moved["you"]["admission"] == "admitted"
    await party.ws.close()
    left = await med.expect("member-left")
    assert left["member"]["id"] == party_id
    back, again = await join(applicant, room)
    assert again["you"]["admission"] == "admitted"
    assert again["you"]["subroom"] == "caucus-a"
    assert again["you"]["id"] == party_id
    assert (await back.expect("waiting"))["reason"] == "no-host"
    await med.send(type="move", member=med.you["id"], subroom="caucus-a")
    assert [m["id"] for m in (await med.expect("moved"))["members"]] == [party_id]
    assert (await back.expect("admitted"))["members"] == []  # the mediator calls


async def test_reconnecting_to_main_sees_the_others(mediator, applicant, room):
    med, party, welcome = await admitted_pair(mediator, applicant, room)
    await party.ws.close()
    await med.expect("member-left")
    _back, again = await join(applicant, room)
    assert again["you"]["admission"] == "admitted"
    assert [m["role"] for m in again["members"]] == ["mediator"]
    rejoined = await med.expect("member-joined")
    assert rejoined["member"]["session"] != welcome["you"]["session"]


async def test_caucus_isolation(mediator, applicant, respondent, room):
    med, a, a_welcome = await admitted_pair(mediator, applicant, room)
    b, b_welcome = await join(respondent, room)
    await med.send(type="admit", member=b_welcome["you"]["id"])
    b_admitted = await b.expect("admitted")
    assert {m["role"] for m in b_admitted["members"]} == {"mediator", "party"}
    a_id, med_id = a_welcome["you"]["id"], med.you["id"]
    await a.expect("member-joined")

    # Back-to-back: the mediator takes A aside; B is told A has gone and cannot reach A.
    await med.send(type="move", member=a_id, subroom="caucus")
    await med.send(type="move", member=med_id, subroom="caucus")
    assert (await b.expect("member-left"))["member"]["id"] in (a_id, med_id)
    assert (await b.expect("member-left"))["member"]["id"] in (a_id, med_id)
    moved = await med.expect("moved")
    assert [m["id"] for m in moved["members"]] == [a_id]
    await b.send(type="signal", to=a_id, candidate={"candidate": "x"})
    assert (await b.expect("error"))["code"] == "not-reachable"
    await b.send(type="signal", to=med_id, candidate={"candidate": "x"})
    assert (await b.expect("error"))["code"] == "not-reachable"
    await med.send(type="signal", to=a_id, candidate={"candidate": "caucus"})
    assert (await a.expect("signal"))["candidate"]["candidate"] == "caucus"
    assert [m for m in await b.quiet() if m["type"] == "signal"] == []


async def test_party_may_not_remove_or_lock(mediator, applicant, room):
    med, party, welcome = await admitted_pair(mediator, applicant, room)
    attempts: list[dict[str, Any]] = [
        {"type": "remove", "member": med.you["id"]},
        {"type": "lock"},
        {"type": "move", "member": welcome["you"]["id"], "subroom": "x"},
    ]
    for message in attempts:
        await party.send(**message)
        assert (await party.expect("error"))["code"] == "not-allowed"


async def test_remove_and_knock_again(mediator, applicant, room):
    med, party, welcome = await admitted_pair(mediator, applicant, room)
    await med.send(type="remove", member=welcome["you"]["id"])
    await party.expect("removed")
    assert await party.closed() == CLOSE_CODES["removed"]
    assert (await med.expect("member-left"))["reason"] in ("removed", "disconnected")
    _back, again = await join(applicant, room)
    assert again["you"]["admission"] == "waiting"


async def test_leave_then_knock_again(mediator, applicant, room):
    med, party, _welcome = await admitted_pair(mediator, applicant, room)
    await party.send(type="leave")
    assert await party.closed() == CLOSE_CODES["left"]
    assert (await med.expect("member-left"))["reason"] == "left"
    _back, again = await join(applicant, room)
    assert again["you"]["admission"] == "waiting"


async def test_locked_room_lets_newcomers_knock_and_members_return(
    mediator, applicant, respondent, room
):
    med, party, _welcome = await admitted_pair(mediator, applicant, room)
    await med.send(type="lock")
    assert (await party.expect("room-state"))["state"] == "locked"
    newcomer, welcome = await join(respondent, room)
    assert welcome["you"]["admission"] == "waiting" and welcome["room"]["state"] == "locked"
    assert (await newcomer.expect("waiting"))["reason"] == "lobby"
    lobby = await med.expect("lobby")
    while not lobby["waiting"]:  # the empty list after the admission may still be on its way
        lobby = await med.expect("lobby")
    assert [m["id"] for m in lobby["waiting"]] == [welcome["you"]["id"]]
    await party.ws.close()
    back, again = await join(applicant, room)
    assert again["you"]["admission"] == "admitted"
    await med.send(type="unlock")
    assert (await back.expect("room-state"))["state"] == "open"


async def test_second_window_replaces_the_first(mediator, room):
    first, _ = await join(mediator, room)
    second, _ = await join(mediator, room)
    assert (await first.expect("error"))["code"] == "replaced"
    assert await first.closed() == CLOSE_CODES["replaced"]
    await second.send(type="ping")
    await second.expect("pong")


async def test_late_departure_of_a_replaced_session_does_not_remove_the_member(
    mediator, applicant, room
):
    """The reconnection ordering: the party's new socket joins while its old one is still
    open, so the old one's departure reaches the others after the new session's arrival. The
    mediator is told the new session and never that the party left."""
    med, old, welcome = await admitted_pair(mediator, applicant, room)
    party_id = welcome["you"]["id"]
    new, again = await join(applicant, room)
    assert again["you"]["id"] == party_id and again["you"]["admission"] == "admitted"
    assert (await old.expect("error"))["code"] == "replaced"
    assert await old.closed() == CLOSE_CODES["replaced"]  # its departure is published now
    joined = await med.expect("member-joined")  # the admission's, with the old session
    assert joined["member"]["session"] == welcome["you"]["session"]
    joined = await med.expect("member-joined")
    assert joined["member"]["session"] == again["you"]["session"]
    after = await med.quiet(0.5)
    assert [m for m in after if m["type"] == "member-left"] == []
    # Whoever joins next sees the party online with its new session, and stays with it.
    await med.ws.close()
    await new.expect("waiting")
    med2, welcome2 = await join(mediator, room)
    assert [(m["id"], m["session"]) for m in welcome2["members"]] == [
        (party_id, again["you"]["session"])
    ]
    await new.send(type="ping")
    await new.expect("pong")
    assert [m for m in await med2.quiet(0.5) if m["type"] == "member-left"] == []


async def test_origin_helper_matches_host(client):
    assert origin(client).startswith("http://127.0.0.1:")
