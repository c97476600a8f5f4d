"""The cross-process room event bus and presence, behind one small interface.

`InProcessBus` serves a single app process (the default). `RedisBus` joins several processes
that serve the same rooms: events go through Redis pub/sub (one channel per room, subscribed
while this process has a listener in the room) and presence lives in a Redis sorted set whose
entries expire unless the owning process keeps refreshing them, so a crashed process's members
vanish by themselves. The app owns the bus (cleanup_ctx, `bus_key`); nothing is module-level.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.settings import settings_key
from app.tasks import cancel_and_wait

log = logging.getLogger("rooms.bus")

Event = dict[str, Any]
Listener = Callable[[Event], None]
PRESENCE_TTL = 60.0  # seconds an entry outlives its last refresh


class Bus(ABC):
    """Listeners are plain callables run on the event loop; they must not block (the signaling
    actor's listener only puts messages on its queue)."""

    def __init__(self) -> None:
        self._listeners: dict[int, list[Listener]] = {}

    def _dispatch(self, room_id: int, event: Event) -> None:
        for listener in list(self._listeners.get(room_id, ())):
            try:
                listener(event)
            except Exception:
                log.exception("room %s listener failed", room_id)

    def _add(self, room_id: int, listener: Listener) -> bool:
        """Registers locally; True when it is the first listener of the room here."""
        listeners = self._listeners.setdefault(room_id, [])
        listeners.append(listener)
        return len(listeners) == 1

    def _remove(self, room_id: int, listener: Listener) -> bool:
        """Unregisters locally; True when the room has no listener left here."""
        listeners = self._listeners.get(room_id, [])
        with contextlib.suppress(ValueError):
            listeners.remove(listener)
        if listeners:
            return False
        self._listeners.pop(room_id, None)
        return True

    @abstractmethod
    async def start(self) -> None:
        """Connects; called once by the app before serving."""

    @abstractmethod
    async def close(self) -> None:
        """Disconnects; called once by the app at shutdown."""

    @abstractmethod
    async def publish(self, room_id: int, event: Event) -> None:
        """Delivers the event to every listener of the room in every process (this one too,
        later on the loop, never inside this call)."""

    @abstractmethod
    async def subscribe(self, room_id: int, listener: Listener) -> None:
        """Returns once events published from now on will reach the listener."""

    @abstractmethod
    async def unsubscribe(self, room_id: int, listener: Listener) -> None: ...

    @abstractmethod
    async def set_present(self, room_id: int, session: str, member_id: int) -> None: ...

    @abstractmethod
    async def clear_present(self, room_id: int, session: str) -> None: ...

    @abstractmethod
    async def presence(self, room_id: int) -> dict[str, int]:
        """Live sessions of the room: session id → member id, in the order they joined, so a
        member's last session (the one that replaces the others) comes last."""


class InProcessBus(Bus):
    def __init__(self) -> None:
        super().__init__()
        self._present: dict[int, dict[str, int]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._listeners.clear()
        self._present.clear()

    async def publish(self, room_id: int, event: Event) -> None:
        # The event itself, not a JSON copy (that copy was a third of a relayed signal's cost):
        # listeners only read events, and what the Redis bus could not carry is caught by its
        # own tests (tests/rooms/test_bus.py, test_two_processes.py).
        asyncio.get_running_loop().call_soon(self._dispatch, room_id, event)

    async def subscribe(self, room_id: int, listener: Listener) -> None:
        self._add(room_id, listener)

    async def unsubscribe(self, room_id: int, listener: Listener) -> None:
        self._remove(room_id, listener)

    async def set_present(self, room_id: int, session: str, member_id: int) -> None:
        self._present.setdefault(room_id, {})[session] = member_id

    async def clear_present(self, room_id: int, session: str) -> None:
        sessions = self._present.get(room_id, {})
        sessions.pop(session, None)
        if not sessions:
            self._present.pop(room_id, None)

    async def presence(self, room_id: int) -> dict[str, int]:
        return dict(self._present.get(room_id, {}))


class RedisBus(Bus):
    def __init__(self, url: str, namespace: str, ttl: float = PRESENCE_TTL) -> None:
        super().__init__()
        self._url, self._ns, self._ttl = url, namespace, ttl
        self._redis: Redis | None = None
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()  # one writer at a time on the pub/sub connection
        self._confirm: dict[str, asyncio.Future[None]] = {}
        # Presence entries this process refreshes: (room, session) → "session:member:joined".
        self._mine: dict[tuple[int, str], str] = {}

    def _channel(self, room_id: int) -> str:
        return f"{self._ns}:room:{room_id}"

    def _presence_key(self, room_id: int) -> str:
        return f"{self._ns}:presence:{room_id}"

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "bus not started"
        return self._redis

    async def start(self) -> None:
        self._redis = Redis.from_url(self._url, decode_responses=True)
        self._pubsub = self._redis.pubsub()
        # A control channel keeps the connection subscribed even while no room is.
        await self._subscribe_channel(f"{self._ns}:control", wait=False)
        self._tasks = [
            asyncio.create_task(self._read(), name="rooms-bus-reader"),
            asyncio.create_task(self._refresh(), name="rooms-bus-presence"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        if self._mine and self._redis is not None:
            with contextlib.suppress(RedisError):
                for (room_id, _session), entry in list(self._mine.items()):
                    await self.redis.zrem(self._presence_key(room_id), entry)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except RedisError:
                log.warning("room bus lost Redis; retrying", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = str(message.get("channel"))
        if message["type"] == "subscribe":
            future = self._confirm.pop(channel, None)
            if future is not None and not future.done():
                future.set_result(None)
            return
        if message["type"] != "message" or ":room:" not in channel:
            return
        try:
            room_id = int(channel.rsplit(":", 1)[1])
            event = json.loads(message["data"])
        except ValueError:
            log.warning("unreadable room bus message on %s", channel)
            return
        self._dispatch(room_id, event)

    async def _subscribe_channel(self, channel: str, *, wait: bool = True) -> None:
        assert self._pubsub is not None
        future = asyncio.get_running_loop().create_future()
        self._confirm[channel] = future
        async with self._lock:
            await self._pubsub.subscribe(channel)
        if wait:
            # Redis confirms on the subscription connection; after that, no publish is missed.
            await asyncio.wait_for(future, timeout=5)
        else:
            self._confirm.pop(channel, None)

    async def publish(self, room_id: int, event: Event) -> None:
        await self.redis.publish(self._channel(room_id), json.dumps(event))

    async def subscribe(self, room_id: int, listener: Listener) -> None:
        if self._add(room_id, listener):
            await self._subscribe_channel(self._channel(room_id))

    async def unsubscribe(self, room_id: int, listener: Listener) -> None:
        if self._remove(room_id, listener):
            assert self._pubsub is not None
            async with self._lock:
                await self._pubsub.unsubscribe(self._channel(room_id))

    async def set_present(self, room_id: int, session: str, member_id: int) -> None:
        # The score is the expiry, rewritten by every refresh; the join time travels in the
        # entry, so `presence` can order a member's sessions by when they joined.
        entry = f"{session}:{member_id}:{time.time_ns()}"
        self._mine[(room_id, session)] = entry
        await self._write_presence(room_id, entry)

    async def _write_presence(self, room_id: int, entry: str) -> None:
        key = self._presence_key(room_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {entry: time.time() + self._ttl})
            pipe.expire(key, int(self._ttl) + 1)
            await pipe.execute()

    async def clear_present(self, room_id: int, session: str) -> None:
        entry = self._mine.pop((room_id, session), None)
        if entry is not None:
            await self.redis.zrem(self._presence_key(room_id), entry)

    async def presence(self, room_id: int) -> dict[str, int]:
        key = self._presence_key(room_id)
        await self.redis.zremrangebyscore(key, "-inf", time.time())
        # "session:member:joined"; an entry of an older version has no join time (sorts first).
        entries = [
            (str(entry) + ":0").split(":")[:3] for entry in await self.redis.zrange(key, 0, -1)
        ]
        entries.sort(key=lambda parts: int(parts[2]))
        return {session: int(member) for session, member, _joined in entries}

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            for (room_id, _session), entry in list(self._mine.items()):
                try:
                    await self._write_presence(room_id, entry)
                except RedisError:
                    log.warning("presence refresh failed", exc_info=True)


def namespace_for(database_url: str) -> str:
    """Processes that share a database share a bus namespace; different deployments (or test
    databases) on one Redis never hear each other."""
    return "rooms:" + hashlib.sha256(database_url.encode()).hexdigest()[:12]


bus_key = web.AppKey("rooms_bus", Bus)


async def bus_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    bus: Bus
    if settings.redis_url:
        bus = RedisBus(settings.redis_url, namespace_for(settings.database_url))
    else:
        bus = InProcessBus()
    await bus.start()
    app[bus_key] = bus
    yield
    await bus.close()
