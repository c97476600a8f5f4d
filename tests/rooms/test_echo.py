"""The pre-join network check: an aiortc browser stand-in offers to `POST /rooms/{id}/echo` and
gets back what it sends (data channel and audio); only people who may enter get an echo peer;
there are at most `room_echo_peers` at once and each closes by itself. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from app.factory import create_app
from app.settings import Settings
from rooms.echo import echo_key
from tests.builders import applications
from tests.people import csrf
from tests.rooms.conftest import origin, party_browser


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(replace(settings, room_echo_peers=1))


async def post_offer(browser: Any, room: int, pc: RTCPeerConnection) -> Any:
    await pc.setLocalDescription(await pc.createOffer())
    token = await csrf(browser, f"/rooms/{room}")
    return await browser.post(
        f"/rooms/{room}/echo",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"X-CSRF-Token": token, "Origin": origin(browser), "Accept": "application/json"},
    )


async def test_the_echo_peer_sends_back_what_it_receives(applicant, room):
    pc = RTCPeerConnection()
    channel = pc.createDataChannel("rtt")
    pc.addTrack(AudioStreamTrack())
    echoed: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", echoed.put_nowait)
    pongs: asyncio.Queue[str] = asyncio.Queue()
    channel.on("message", pongs.put_nowait)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    response = await post_offer(applicant, room, pc)
    assert response.status == 200
    answer = await response.json()
    assert answer["type"] == "answer"
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    async with asyncio.timeout(15):
        await opened.wait()
        channel.send("ping 1")
        assert await pongs.get() == "ping 1"
        track = await echoed.get()
        assert track.kind == "audio"
        frame = await track.recv()  # audio that went to the server and came back
        assert frame.samples > 0
    await pc.close()


async def test_one_check_at_a_time_here_and_each_closes_itself(app, applicant, respondent, room):
    first, second = RTCPeerConnection(), RTCPeerConnection()
    for pc in (first, second):
        pc.createDataChannel("rtt")
    app[echo_key].seconds = 0.5
    assert (await post_offer(applicant, room, first)).status == 200
    busy = await post_offer(respondent, room, second)
    assert busy.status == 429 and "Retry-After" in busy.headers
    await asyncio.sleep(1.0)
    assert app[echo_key].peers == {}  # closed after its time
    third = RTCPeerConnection()
    third.createDataChannel("rtt")
    assert (await post_offer(respondent, room, third)).status == 200
    for pc in (first, second, third):
        await pc.close()


async def test_only_those_who_may_enter_and_only_offers(
    app, browsers, client, demo, room, applicant
):
    pc = RTCPeerConnection()
    pc.createDataChannel("rtt")
    refused = await post_offer(client, room, pc)  # nobody logged in
    assert refused.status == 401
    (other_case,) = await applications(app, demo["org:town"])
    stranger = await party_browser(browsers, app, other_case, "applicant")
    assert (await post_offer(stranger, room, pc)).status == 404
    token = await csrf(applicant, f"/rooms/{room}")
    headers = {"X-CSRF-Token": token, "Origin": origin(applicant), "Accept": "application/json"}
    for body in (
        {"sdp": "v=0", "type": "answer"},
        {"sdp": 7, "type": "offer"},
        {"sdp": "x" * 70_000, "type": "offer"},
        {"sdp": "not an sdp", "type": "offer"},
    ):
        bad = await applicant.post(f"/rooms/{room}/echo", json=body, headers=headers)
        assert bad.status == 400, body
        message = await bad.json()
        assert message
    assert app[echo_key].peers == {}  # a refused offer leaves no peer behind
    await pc.close()
