"""WebSocket signaling: one actor per socket (see rooms/PROTOCOL.md).

Each connection is a `Connection`: the request task reads and handles client messages one at a
time; a single writer task drains a bounded outbound queue; bus events reach the actor through a
listener that only updates the actor's view of the room and queues messages. A client whose queue
overflows is disconnected rather than buffered without bound. Durable state (admission, sub-room)
is in the database; the actor's `members` map is a cache of it plus presence, kept current by bus
events, so any process can serve any member of a room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from app.auth import current
from app.db import sessionmaker_key, transaction, utcnow
from app.errors import NotFound
from app.revocation import Revoked
from app.settings import settings_key
from rooms import audience, policy, services
from rooms.bus import Event, bus_key
from rooms.policy import MemberState
from rooms.protocol import (
    CLOSE_CODES,
    JOIN,
    ProtocolError,
    error,
    member_id,
    outgoing,
    parse,
    signal_payload,
)
from rooms.services import RoomError

log = logging.getLogger("rooms.signaling")


@dataclass(frozen=True)
class Limits:
    max_msg_size: int = 64 * 1024
    heartbeat: float = 20.0
    join_timeout: float = 10.0
    close_timeout: float = 5.0
    queue_size: int = 256
    rate: float = 30.0  # messages per second, sustained
    burst: float = 150.0  # a mesh start sends offers and a few dozen candidates at once


limits_key = web.AppKey("rooms_limits", Limits)
live_key = web.AppKey("rooms_live_connections", set["Connection"])


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every client to go (1001); browsers reconnect to another process."""
    for connection in list(app.get(live_key, ())):
        connection.close(1001)


async def close_sessions(app: web.Application, revoked: Revoked) -> None:
    """on_revoked: every connection opened through a revoked browser session closes (4401), in
    whichever process serves it (the event goes through each affected room's bus)."""
    async with app[sessionmaker_key]() as db:
        rooms = await services.open_rooms_of(db, revoked.principals)
    event = {"kind": "revoked", "sessions": list(revoked.session_ids)}
    for room_id in rooms:
        await app[bus_key].publish(room_id, event)


async def close_if_concluded(app: web.Application, case_id: int, status: str) -> None:
    """on_case_status: a ruling (or closure) ends the case's live room at once."""
    if status in policy.CONCLUDED_CASE_STATUSES:
        await close_rooms_of_case(app, case_id)


async def close_rooms_of_case(app: web.Application, case_id: int) -> None:
    """The case is concluded: its rooms close, and everyone still connected there is told."""
    async with transaction(app) as db:
        closed = await services.do_close_rooms(db, case_id)
    for room_id in closed:
        await app[bus_key].publish(room_id, {"kind": "room", "state": "closed"})


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=0.0)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class Close:
    """Queue sentinel: the writer closes the socket with this code after what precedes it."""

    code: int


def origin_matches(request: web.Request) -> bool:
    # Browsers always send Origin on a WebSocket upgrade; cookies ride along cross-site, so a
    # missing or foreign Origin is refused before the upgrade.
    origin = request.headers.get("Origin")
    return bool(origin) and urlsplit(origin).netloc == request.host


async def room_socket(request: web.Request) -> web.StreamResponse:
    if not origin_matches(request):
        raise web.HTTPForbidden(text="origin")
    limits = request.app[limits_key]
    ws = web.WebSocketResponse(
        heartbeat=limits.heartbeat, max_msg_size=limits.max_msg_size, timeout=limits.close_timeout
    )
    await ws.prepare(request)
    await Connection(request, ws, limits).run()
    return ws


class Connection:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, limits: Limits) -> None:
        self.app = request.app
        self.ws = ws
        self.limits = limits
        self.principal = current(request)
        self.room_id = int(request.match_info["room_id"])
        self.session = secrets.token_hex(8)
        self.bus = request.app[bus_key]
        self.queue: asyncio.Queue[dict[str, Any] | Close] = asyncio.Queue(limits.queue_size)
        self.bucket = TokenBucket(limits.rate, limits.burst)
        self.members: dict[int, MemberState] | None = None  # None until the snapshot is in
        self.hosted: frozenset[str] = frozenset()  # sub-rooms with a host online (of members)
        self.pending: list[Event] = []
        self.me_id = 0
        self.room_state = "open"
        self.lobby: list[int] = []
        self.closing = False
        self.kicked: str | None = None
        self.subscribed = False
        self.present = False
        self.departure = "disconnected"
        self.last_rate_error = 0.0
        self.handler_task = asyncio.current_task()
        self.writer: asyncio.Task[None] | None = None

    @property
    def me(self) -> MemberState:
        assert self.members is not None
        return self.members[self.me_id]

    # --- life cycle -------------------------------------------------------------------------

    async def run(self) -> None:
        self.writer = asyncio.create_task(self.write_loop(), name=f"room-{self.room_id}-writer")
        self.app[live_key].add(self)
        try:
            entry = await self.authorise()
            if entry is not None and await self.await_join():
                await self.join(entry)
                if not self.closing:
                    await self.read_loop()
        except asyncio.CancelledError:
            if self.kicked is None:
                raise
            assert self.handler_task is not None
            self.handler_task.uncancel()
        finally:
            self.app[live_key].discard(self)
            await self.cleanup()

    async def authorise(self) -> services.Entry | None:
        if self.principal.kind == "anonymous":
            self.fail("not-authenticated")
            return None
        try:
            async with self.app[sessionmaker_key]() as db:
                return await services.enter(db, self.principal, self.room_id)
        except NotFound:
            self.fail("not-found")
            return None

    async def await_join(self) -> bool:
        """The join phase: the first message must be `join`, within limits.join_timeout."""
        deadline = time.monotonic() + self.limits.join_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                msg = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                self.fail("join-timeout")
                return False
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return False
            if not self.bucket.take():
                self.rate_limited()
                continue
            try:
                data = self.decode(msg)
            except ProtocolError as exc:
                self.send(error(exc.code))
                continue
            if data["type"] == JOIN:
                return True
            self.send(error("join-first", about=data["type"]))

    async def join(self, entry: services.Entry) -> None:
        if entry.case.status in policy.CONCLUDED_CASE_STATUSES:
            await close_rooms_of_case(self.app, entry.case.id)
            self.fail("room-closed")
            return
        # Subscribe before reading the snapshot, so no change falls between the two.
        await self.bus.subscribe(self.room_id, self.on_event)
        self.subscribed = True
        try:
            async with transaction(self.app) as db:
                me = await services.do_join(db, entry, self.principal)
        except RoomError as exc:
            self.fail(exc.room_code)
            return
        # Read after our member row committed: a revocation committed before this read is seen
        # here, one committed after it finds the row and reaches us through the bus.
        async with self.app[sessionmaker_key]() as db:
            revoked = await services.session_revoked(db, self.principal.session_id)
        if revoked or self.closing:
            if revoked:
                self.fail("not-authenticated")
            return
        self.me_id = me.id
        await self.bus.set_present(self.room_id, self.session, me.id)
        self.present = True
        async with self.app[sessionmaker_key]() as db:
            rows = await services.members(db, self.room_id)
            self.room_state = await services.room_state(db, self.room_id)
        online = {
            member: session for session, member in (await self.bus.presence(self.room_id)).items()
        }
        online[me.id] = self.session
        self.members = {m.id: replace(m, session=online.get(m.id)) for m in rows}
        self.members[me.id] = replace(me, session=self.session)
        self.hosted = policy.hosted_subrooms(self.members.values())
        self.welcome()
        await self.publish_member(self.me, "joined", presence="on")
        pending, self.pending = self.pending, []
        for event in pending:
            self.on_event(event)

    def welcome(self) -> None:
        settings = self.app[settings_key]
        self.send(
            outgoing(
                "welcome",
                you=self.me.wire(),
                room={"id": self.room_id, "state": self.room_state},
                members=self.visible(),
                iceServers=services.ice_servers(settings, self.principal.key, utcnow()),
            )
        )
        assert self.members is not None
        reason = audience.waiting_reason(self.me, self.members)
        if reason is not None:
            self.send(outgoing("waiting", you=self.me.wire(), reason=reason))
        self.update_lobby(force=True)

    async def read_loop(self) -> None:
        async for msg in self.ws:
            if self.closing:
                break
            if not self.bucket.take():
                self.rate_limited()
                continue
            kind: str | None = None
            try:
                data = self.decode(msg)
                kind = data["type"]
                await HANDLERS[kind](self, data)
            except ProtocolError as exc:
                self.send(error(exc.code, about=kind))
            except RoomError as exc:
                self.send(error(exc.room_code, about=kind))
            except Exception:
                log.exception("room %s: message failed", self.room_id)
                self.send(error("server-error"))
            if self.closing:
                break

    def decode(self, msg: Any) -> dict[str, Any]:
        if msg.type is not WSMsgType.TEXT:
            raise ProtocolError("invalid-message")
        return parse(msg.data)

    def rate_limited(self) -> None:
        now = time.monotonic()
        if now - self.last_rate_error >= 1:
            self.last_rate_error = now
            self.send(error("rate-limited"))

    async def cleanup(self) -> None:
        # Every exit path comes here: presence, bus, then the writer and the socket.
        try:
            if self.subscribed:
                await self.bus.unsubscribe(self.room_id, self.on_event)
            if self.present:
                await self.bus.clear_present(self.room_id, self.session)
                if self.members is not None:
                    await self.publish_member(self.me, self.departure, presence="off")
        except Exception:
            log.exception("room %s: cleanup failed", self.room_id)
        finally:
            await self.stop_writer()

    async def stop_writer(self) -> None:
        assert self.writer is not None
        if self.kicked is None:
            if not self.closing:
                self.closing = True
                with contextlib.suppress(asyncio.QueueFull):
                    self.queue.put_nowait(Close(1000))
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self.writer), self.limits.close_timeout + 1)
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer
        if not self.ws.closed:
            code = CLOSE_CODES.get(self.kicked or "", 1000)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await self.ws.close(code=code)

    # --- outbound ---------------------------------------------------------------------------

    async def write_loop(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, Close):
                await self.ws.close(code=item.code)
                return
            try:
                await self.ws.send_str(json.dumps(item, ensure_ascii=False))
            except ConnectionError:
                return

    def send(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.kick("too-slow")

    def fail(self, code: str) -> None:
        """Tells the client why, then closes with the matching close code."""
        self.send(error(code))
        self.close(CLOSE_CODES.get(code, 4400))

    def close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        try:
            self.queue.put_nowait(Close(code))
        except asyncio.QueueFull:
            self.kick("too-slow")

    def kick(self, reason: str) -> None:
        """A slow consumer: stop everything now; cleanup runs in the handler task."""
        if self.kicked is not None:
            return
        log.info("room %s: disconnecting member %s (%s)", self.room_id, self.me_id, reason)
        self.kicked = reason
        self.closing = True
        if self.writer is not None:
            self.writer.cancel()
        if self.handler_task is not None:
            self.handler_task.cancel()

    # --- bus events -------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        kind = event.get("kind")
        if kind == "revoked":
            if self.principal.session_id in event.get("sessions", ()):
                self.fail("not-authenticated")
            return
        if self.members is None:
            self.pending.append(event)
            return
        if kind == "member":
            self.on_member_event(event)
        elif kind == "signal":
            self.on_signal_event(event)
        elif kind == "room":
            self.room_state = str(event["state"])
            self.send(outgoing("room-state", state=self.room_state))
            if self.room_state == "closed":
                self.fail("room-closed")

    def on_member_event(self, event: Event) -> None:
        assert self.members is not None
        new = MemberState.from_wire(event["member"])
        old = self.members.get(new.id)
        known = old.session if old is not None else None
        if event.get("presence") == "on":
            session = event.get("session")
        elif event.get("presence") == "off" and known == event.get("session"):
            session = None
        else:
            session = known  # a state change, or the departure of an already replaced session
        new = replace(new, session=session)
        if new.id == self.me_id:
            if event.get("presence") == "on" and event.get("session") != self.session:
                self.departure = "replaced"
                self.fail("replaced")  # the same person joined again elsewhere; newer one stays
                return
            if event.get("presence") == "off":
                return  # our own departure (or an older session's), nothing to tell
            new = replace(new, session=self.session)
        before, after = self.members, {**self.members, new.id: new}
        self.members, self.hosted = after, policy.hosted_subrooms(after.values())
        for message in audience.tell(self.me_id, before, after, new.id, str(event["reason"])):
            self.send(message)
        if new.id == self.me_id and new.admission == "removed":
            self.departure = "removed"
            self.close(CLOSE_CODES["removed"])
        self.update_lobby()

    def on_signal_event(self, event: Event) -> None:
        assert self.members is not None
        if event.get("to") != self.me_id or event.get("toSession") not in (None, self.session):
            return
        sender = self.members.get(int(event["from"]["id"]))
        # Checked again on this side: a relay never crosses sub-rooms or reaches the lobby, even
        # if the sender's process had an older view of the room.
        if sender is None or not policy.may_signal(sender, self.me, self.hosted):
            return
        payload = {k: event[k] for k in ("description", "candidate") if k in event}
        self.send(outgoing("signal", **{"from": event["from"]}, **payload))

    def visible(self) -> list[dict[str, Any]]:
        assert self.members is not None
        return [m.wire() for m in audience.visible(self.me, self.members)]

    def update_lobby(self, *, force: bool = False) -> None:
        if self.members is None or not policy.may_moderate(self.me.role):
            return
        waiting = policy.lobby_of(list(self.members.values()))
        ids = [m.id for m in waiting]
        if force or ids != self.lobby:
            self.lobby = ids
            self.send(outgoing("lobby", waiting=[m.wire() for m in waiting]))

    async def publish_member(self, member: MemberState, reason: str, presence: str | None) -> None:
        durable = replace(member, session=None).wire()
        await self.bus.publish(
            self.room_id,
            {
                "kind": "member",
                "reason": reason,
                "member": durable,
                "presence": presence,
                "session": self.session if presence else None,
            },
        )

    # --- client messages --------------------------------------------------------------------

    async def on_join_again(self, data: dict[str, Any]) -> None:
        raise ProtocolError("already-joined")

    async def on_ping(self, data: dict[str, Any]) -> None:
        self.send(outgoing("pong"))

    async def on_signal(self, data: dict[str, Any]) -> None:
        assert self.members is not None
        to = member_id(data, "to")
        payload = signal_payload(data)
        if self.me.admission != "admitted":
            raise ProtocolError("not-admitted")
        target = self.members.get(to)
        if target is None or not policy.sees(self.me, target, self.hosted):
            raise ProtocolError("not-reachable")
        me = self.me
        stamp = {"id": me.id, "role": me.role, "name": me.name, "session": self.session}
        await self.bus.publish(
            self.room_id,
            {"kind": "signal", "to": to, "toSession": target.session, "from": stamp, **payload},
        )

    async def on_admit(self, data: dict[str, Any]) -> None:
        target = member_id(data)
        async with transaction(self.app) as db:
            member = await services.do_admit(db, self.room_id, self.me_id, target)
        await self.publish_member(member, "admitted", presence=None)

    async def on_remove(self, data: dict[str, Any]) -> None:
        target = member_id(data)
        async with transaction(self.app) as db:
            member = await services.do_remove(db, self.room_id, self.me_id, target)
        await self.publish_member(member, "removed", presence=None)

    async def on_move(self, data: dict[str, Any]) -> None:
        target, subroom = member_id(data), data.get("subroom")
        if not isinstance(subroom, str):
            raise ProtocolError("invalid-message")
        async with transaction(self.app) as db:
            member = await services.do_move(db, self.room_id, self.me_id, target, subroom)
        await self.publish_member(member, "moved", presence=None)

    async def on_lock(self, data: dict[str, Any]) -> None:
        await self.set_room_state("locked")

    async def on_unlock(self, data: dict[str, Any]) -> None:
        await self.set_room_state("open")

    async def set_room_state(self, state: str) -> None:
        async with transaction(self.app) as db:
            await services.do_set_state(db, self.room_id, self.me_id, state)
        await self.bus.publish(self.room_id, {"kind": "room", "state": state})

    async def on_leave(self, data: dict[str, Any]) -> None:
        async with transaction(self.app) as db:
            member = await services.do_leave(db, self.room_id, self.me_id)
        if member is not None and self.members is not None:
            self.members[self.me_id] = replace(member, session=self.session)
        self.departure = "left"
        self.close(CLOSE_CODES["left"])


# The dispatch table: one entry per client message type (a test holds it equal to
# protocol.CLIENT_TYPES and to the types documented in rooms/PROTOCOL.md).
HANDLERS: Mapping[str, Callable[[Connection, dict[str, Any]], Awaitable[None]]] = MappingProxyType(
    {
        "join": Connection.on_join_again,
        "signal": Connection.on_signal,
        "admit": Connection.on_admit,
        "remove": Connection.on_remove,
        "move": Connection.on_move,
        "lock": Connection.on_lock,
        "unlock": Connection.on_unlock,
        "leave": Connection.on_leave,
        "ping": Connection.on_ping,
    }
)
