"""The actor's limits: join timeout, rate limit, slow consumers. Tight limits make them quick."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from app.factory import create_app
from app.settings import Settings
from rooms.connection import TokenBucket
from rooms.protocol import CLOSE_CODES
from rooms.signaling import Limits, limits_key
from tests.rooms.conftest import Member, join, open_socket

TIGHT = Limits(join_timeout=0.5, rate=5.0, burst=5.0, queue_size=8, close_timeout=1.0)


FLOODABLE = Limits(queue_size=8, rate=1e6, burst=1e6, close_timeout=1.0)


@pytest.fixture
def app(settings: Settings, request: pytest.FixtureRequest) -> web.Application:
    app = create_app(settings)
    app[limits_key] = FLOODABLE if "slow_consumer" in request.node.name else TIGHT
    return app


def test_token_bucket_refills_at_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3.0)
    now = bucket.stamp
    assert [bucket.take(now) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(now + 0.5) is True  # one token back after half a second at 2/s
    assert bucket.take(now + 0.5) is False
    assert bucket.take(now + 100) is True and bucket.tokens == 2.0  # never above the burst


async def test_join_timeout_closes(mediator, room):
    member = Member(await open_socket(mediator, room))
    assert (await member.expect("error"))["code"] == "join-timeout"
    assert await member.closed() == CLOSE_CODES["join-timeout"]


async def test_rate_limit_answers_with_an_error(mediator, room):
    med, _ = await join(mediator, room)
    for _ in range(20):
        await med.send(type="ping")
    got = await med.quiet(0.5)
    pongs = [m for m in got if m["type"] == "pong"]
    errors = [m for m in got if m["type"] == "error"]
    assert len(pongs) < 20
    assert errors and errors[0]["code"] == "rate-limited"
    await asyncio.sleep(1.0)
    await med.send(type="ping")
    await med.expect("pong")


async def test_slow_consumer_is_disconnected(mediator, applicant, room):
    med, _ = await join(mediator, room)
    party, welcome = await join(applicant, room)
    await med.send(type="admit", member=welcome["you"]["id"])
    await party.expect("admitted")
    await med.expect("member-joined")
    sdp = "a" * 60_000  # under the 64 KiB message size limit
    # The party stops reading; the mediator floods it until its queue overflows.
    for _ in range(400):
        await med.send(
            type="signal", to=welcome["you"]["id"], description={"type": "offer", "sdp": sdp}
        )
    left = await med.expect("member-left", within=20)
    assert left["member"]["id"] == welcome["you"]["id"]
    assert await party.closed(within=20) is not None  # after what was already on the wire
    await med.send(type="ping")
    await med.expect("pong")
