"""The bus interface, in-process and on Redis (two bus instances stand for two processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from rooms.bus import Bus, InProcessBus, RedisBus, namespace_for

REDIS_URL = "redis://127.0.0.1:6379/0"


async def redis_reachable() -> bool:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    if not await redis_reachable():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    one, two = RedisBus(REDIS_URL, namespace, ttl=1.5), RedisBus(REDIS_URL, namespace, ttl=1.5)
    await one.start()
    await two.start()
    yield one, two
    await one.close()
    await two.close()


@pytest.fixture
async def in_process() -> AsyncIterator[tuple[Bus, Bus]]:
    bus = InProcessBus()
    await bus.start()
    yield bus, bus  # one process: both "sides" are the same bus
    await bus.close()


@pytest.fixture(params=["in_process", "redis_pair"])
def buses(request: pytest.FixtureRequest) -> tuple[Bus, Bus]:
    pair: tuple[Bus, Bus] = request.getfixturevalue(request.param)
    return pair


async def received(box: list[Any], count: int) -> list[Any]:
    """The box once it holds `count` events (the bus delivers later, on the loop)."""
    async with asyncio.timeout(3):
        while len(box) < count:  # noqa: ASYNC110 (listeners are plain callables: nothing to await)
            await asyncio.sleep(0.01)
    return box


async def test_events_reach_every_listener_of_the_room_only(buses):
    one, two = buses
    here: list[Any] = []
    there: list[Any] = []
    elsewhere: list[Any] = []
    await one.subscribe(7, here.append)
    await two.subscribe(7, there.append)
    await two.subscribe(8, elsewhere.append)
    await one.publish(7, {"kind": "signal", "n": 1})
    await two.publish(7, {"kind": "signal", "n": 2})
    assert await received(here, 2) == [{"kind": "signal", "n": 1}, {"kind": "signal", "n": 2}]
    assert await received(there, 2) == [{"kind": "signal", "n": 1}, {"kind": "signal", "n": 2}]
    await asyncio.sleep(0.1)
    assert elsewhere == []


async def test_publish_never_delivers_inside_the_call(buses):
    one, _ = buses
    box: list[Any] = []
    await one.subscribe(1, box.append)
    await one.publish(1, {"n": 1})
    assert box == []  # the publisher's own actor sees its event later, as other processes do
    await received(box, 1)


async def test_unsubscribed_listener_hears_nothing(buses):
    one, two = buses
    box: list[Any] = []
    await two.subscribe(3, box.append)
    await two.unsubscribe(3, box.append)
    keep: list[Any] = []
    await one.subscribe(3, keep.append)
    await one.publish(3, {"n": 1})
    await received(keep, 1)
    await asyncio.sleep(0.1)
    assert box == []


async def test_presence_is_shared(buses):
    one, two = buses
    await one.set_present(5, "s1", 11)
    await two.set_present(5, "s2", 12)
    assert await one.presence(5) == {"s1": 11, "s2": 12}
    assert await two.presence(5) == {"s1": 11, "s2": 12}
    await one.clear_present(5, "s1")
    assert await two.presence(5) == {"s2": 12}


async def test_presence_lists_sessions_in_the_order_they_joined(buses):
    """A member who reconnected has two sessions present until the old one is cleaned up; a
    newcomer's snapshot takes the last one listed, which must be the newer, however recently
    the old one was refreshed (else the old socket's departure would remove the member)."""
    one, two = buses
    await one.set_present(6, "old", 7)
    await two.set_present(6, "new", 7)
    if isinstance(one, RedisBus):
        await one._write_presence(6, one._mine[(6, "old")])  # what its refresher does
    assert list((await two.presence(6)).items()) == [("old", 7), ("new", 7)]
    assert {m: s for s, m in (await one.presence(6)).items()} == {7: "new"}


async def test_presence_of_a_dead_process_expires(redis_pair):
    one, two = redis_pair
    await one.set_present(9, "alive", 1)
    await two.set_present(9, "doomed", 2)
    # "Kill" the second process without a goodbye: stop its refresher, drop what it owns.
    for task in two._tasks:
        task.cancel()
    two._mine.clear()
    await asyncio.sleep(2.2)  # past the 1.5 s ttl; the first one keeps refreshing (every 0.5 s)
    assert await one.presence(9) == {"alive": 1}


def test_namespace_follows_the_database():
    assert namespace_for("sqlite:///a") == namespace_for("sqlite:///a")
    assert namespace_for("sqlite:///a") != namespace_for("sqlite:///b")
