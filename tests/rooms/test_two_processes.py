"""Two app processes (two apps, one database, one Redis) serve one room together."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.factory import create_app
from rooms.bus import RedisBus, bus_key
from tests.people import login, open_party_session, seed_ids
from tests.rooms.conftest import assign_mediator, join, make_room
from tests.rooms.test_bus import REDIS_URL, redis_reachable


async def test_mediator_and_party_on_different_processes(settings, aiohttp_client: Any):
    if not await redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    shared = replace(settings, redis_url=REDIS_URL)
    one = await aiohttp_client(create_app(shared))
    two = await aiohttp_client(create_app(shared))
    assert isinstance(one.app[bus_key], RedisBus)
    ids = await seed_ids(one.app)
    await assign_mediator(one.app, ids["case"], ids["user:mediator"])
    room = await make_room(one.app, ids["case"])
    await login(one, "mediator")
    await open_party_session(two, two.app, ids["case"], "applicant")

    med, _ = await join(one, room)
    await med.expect("lobby")
    party, welcome = await join(two, room)
    lobby = await med.expect("lobby")  # the knock crossed from process two to process one
    assert [m["id"] for m in lobby["waiting"]] == [welcome["you"]["id"]]
    await med.send(type="admit", member=welcome["you"]["id"])
    admitted = await party.expect("admitted")
    assert [m["id"] for m in admitted["members"]] == [med.you["id"]]
    await party.send(type="signal", to=med.you["id"], description={"type": "offer", "sdp": "v=0"})
    relayed = await med.expect("signal")
    assert relayed["from"]["id"] == welcome["you"]["id"]
    await party.ws.close()
    assert (await med.expect("member-left"))["member"]["id"] == welcome["you"]["id"]
    await med.ws.close()


async def test_call_caucus_and_chat_across_processes(settings, aiohttp_client: Any):
    if not await redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    shared = replace(settings, redis_url=REDIS_URL)
    one = await aiohttp_client(create_app(shared))
    two = await aiohttp_client(create_app(shared))
    three = await aiohttp_client(two.server)  # another browser on process two
    ids = await seed_ids(one.app)
    await assign_mediator(one.app, ids["case"], ids["user:mediator"])
    room = await make_room(one.app, ids["case"])
    await login(one, "mediator")
    await open_party_session(two, two.app, ids["case"], "applicant")
    await open_party_session(three, two.app, ids["case"], "respondent")

    med, _ = await join(one, room)
    a, _ = await join(two, room)
    b, _ = await join(three, room)
    for party in (a, b):
        await med.send(type="admit", member=party.you["id"])
        await party.expect("admitted")
    await a.send(type="chat", text="你好")
    for member in (med, a, b):
        assert (await member.expect("chat"))["message"]["text"] == "你好"
    await b.send(type="media", audio=True, video=False, screen=False, audioOnly=True)
    assert (await med.expect("member-updated"))["member"]["audioOnly"] is True

    await med.send(type="move", member=a.you["id"], subroom="caucus")
    await med.send(type="move", member=med.you["id"], subroom="caucus")
    moved = await med.expect("moved")
    assert [m["id"] for m in moved["members"]] == [a.you["id"]]
    assert [c["text"] for c in moved["chat"]] == []
    await b.expect("waiting")
    await a.send(type="chat", text="背靠背")
    assert (await med.expect("chat"))["message"]["subroom"] == "caucus"
    await b.send(type="call-host")
    assert (await med.expect("host-called"))["member"]["id"] == b.you["id"]
    assert "chat" not in [m["type"] for m in await b.quiet()]
    await a.send(type="signal", to=med.you["id"], description={"type": "offer", "sdp": "v=0"})
    assert (await med.expect("signal"))["from"]["id"] == a.you["id"]
    for member in (med, a, b):
        await member.ws.close()
