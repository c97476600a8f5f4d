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
