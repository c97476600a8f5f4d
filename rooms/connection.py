"""The per-socket actor (see rooms/PROTOCOL.md).

Each connection is a `Connection`: the request task reads client messages one at a time and runs
the matching command (rooms/commands.py); an already encoded message goes straight to an idle
socket, else into a bounded outbound queue that a single writer task (started when a message
first has to wait) drains under the transport's flow control; bus events reach the actor through
a listener that only updates the actor's view of the room and sends or queues messages. A client
whose queue overflows is disconnected rather than buffered without bound. Durable state
(admission, sub-room, media state, consent) is in the database; the actor's `members` map is a
cache of it plus presence, kept current by bus events, so any process can serve any member of a
room. Messages sent to several members are encoded once by their publisher and travel as text
(`event["text"]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from app.auth import ANONYMOUS, SESSION_COOKIE
from app.db import transaction, utcnow
from app.errors import NotFound
from app.settings import settings_key
from app.tasks import cancel_and_wait
from rooms import arrival, audience, policy, services, session
from rooms.bus import Event, bus_key
from rooms.commands import COMMANDS
from rooms.policy import MemberState
from rooms.protocol import CLOSE_CODES, JOIN, ProtocolError, encode, error, outgoing, parse
from rooms.services import RoomError
from rooms.signaling import Limits, close_rooms_of_case, limits_key, live_key

log = logging.getLogger("rooms.signaling")


@dataclass(slots=True)
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


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented, uncompressed WebSocket text frame (RFC 6455, 5.2): what a
    server sends on a socket without permessage-deflate (room_socket never offers it)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return _FRAME_16(0x81, 126, n) + payload
    return _FRAME_64(0x81, 127, n) + payload


_FRAME_16 = struct.Struct("!BBH").pack
_FRAME_64 = struct.Struct("!BBQ").pack


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
    # No permessage-deflate: signaling messages are small, and a deflate context costs each
    # socket hundreds of kilobytes and every fan-out a compression per recipient.
    ws = web.WebSocketResponse(
        heartbeat=limits.heartbeat,
        max_msg_size=limits.max_msg_size,
        timeout=limits.close_timeout,
        compress=False,
    )
    await ws.prepare(request)
    await Connection(request, ws, limits).run()
    return ws


class Connection:
    # One per socket, for the socket's life: slots, not a dict per instance.
    __slots__ = (
        "announced",
        "app",
        "bucket",
        "bus",
        "case_id",
        "chat",
        "closing",
        "departure",
        "handler_task",
        "hosted",
        "kicked",
        "last_rate_error",
        "limits",
        "lobby",
        "me_id",
        "members",
        "outbox",
        "pending",
        "present",
        "principal",
        "recording",
        "room_id",
        "room_state",
        "session",
        "subscribed",
        "token",
        "transport",
        "wake",
        "writer",
        "ws",
    )

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, limits: Limits) -> None:
        self.app = request.app
        self.ws = ws
        self.limits = limits
        # The session is read with the join (rooms/arrival.py), not at the upgrade.
        self.token = request.cookies.get(SESSION_COOKIE)
        self.principal = ANONYMOUS
        self.room_id = int(request.match_info["room_id"])
        self.case_id = 0
        self.session = secrets.token_hex(8)
        self.bus = request.app[bus_key]
        # The bounded outbound queue: a plain list the writer swaps out whole, and the future
        # it waits on when there is nothing to send (an asyncio.Queue is 3 KB per socket).
        self.outbox: list[str | Close] = []
        self.wake: asyncio.Future[None] | None = None
        self.transport = request.transport  # for put's direct writes
        self.bucket = TokenBucket(limits.rate, limits.burst)
        self.members: dict[int, MemberState] | None = None  # None until the snapshot is in
        self.hosted: frozenset[str] = frozenset()  # sub-rooms with a host online (of members)
        self.pending: list[Event] = []
        self.me_id = 0
        self.room_state = "open"
        self.recording = False
        self.chat: list[dict[str, Any]] = []  # my sub-room's recent chat, as I was sent it
        self.lobby: list[int] = []
        self.closing = False
        self.kicked: str | None = None
        self.subscribed = False
        self.present = False
        # Our own arrival came back through the bus: any later arrival of our member replaces us
        # (the bus delivers in publish order, so of concurrent windows the last one stays).
        self.announced = False
        self.departure = "disconnected"
        self.last_rate_error = 0.0
        self.handler_task = asyncio.current_task()
        self.writer: asyncio.Task[None] | None = None

    @property
    def me(self) -> MemberState:
        assert self.members is not None
        return self.members[self.me_id]

    def stamp(self) -> dict[str, Any]:
        """Who sent it, as the server knows it (clients never assert their identity)."""
        me = self.me
        return {"id": me.id, "role": me.role, "name": me.name, "session": self.session}

    # --- life cycle -------------------------------------------------------------------------

    async def run(self) -> None:
        self.app[live_key].add(self)
        try:
            if not self.token:
                self.fail("not-authenticated")
            elif await self.await_join():
                await self.join()
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

    async def join(self) -> None:
        # Subscribe before the snapshot, so no change falls between the two.
        await self.bus.subscribe(self.room_id, self.on_event)
        self.subscribed = True
        minutes = self.app[settings_key].room_opens_minutes_before
        token, self.token = self.token or "", None
        try:
            came = await arrival.arrive(self.app, token, self.room_id, minutes)
        except NotFound:
            self.fail("not-found")
            return
        except RoomError as exc:
            self.fail(exc.room_code)
            return
        self.principal, self.case_id = came.principal, came.entry.case.id
        if came.concluded:
            await close_rooms_of_case(self.app, self.case_id)
            self.fail("room-closed")
            return
        if came.me is None:  # told only after the commit (the opening's binding is in it)
            self.send(error("not-open-yet", data={"opensAt": came.opening.wire()}))
            self.close(CLOSE_CODES["not-open-yet"])
            return
        if self.closing:
            return
        self.room_state, self.recording = came.entry.room.state, came.entry.room.recording
        await self.enter(came)

    async def enter(self, came: arrival.Arrival) -> None:
        assert came.me is not None
        me = came.me
        self.me_id = me.id
        await self.bus.set_present(self.room_id, self.session, me.id)
        self.present = True
        # Presence lists sessions in join order: a member's newest session wins over one that
        # is replaced but not yet gone (whose late departure must not remove the member).
        online = {
            member: session for session, member in (await self.bus.presence(self.room_id)).items()
        }
        online[me.id] = self.session
        self.members = {m.id: replace(m, session=online.get(m.id)) for m in came.members}
        self.members[me.id] = replace(me, session=self.session)
        self.hosted = policy.hosted_subrooms(self.members.values())
        self.chat = came.chat
        self.welcome(came.opening, came.chat)
        await self.publish_member(self.me, "joined", presence="on")
        await self.guard_recording(self.me)
        pending, self.pending = self.pending, []
        for event in pending:
            self.on_event(event)

    def welcome(self, opening: session.Opening, history: list[dict[str, Any]]) -> None:
        settings = self.app[settings_key]
        room = {
            "id": self.room_id,
            "state": self.room_state,
            "opensAt": opening.wire(),
            "recording": self.recording,
        }
        self.send(
            outgoing(
                "welcome",
                you=self.me.wire(),
                room=room,
                members=self.visible(),
                iceServers=services.ice_servers(settings, self.principal.key, utcnow()),
                chat=history,
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
            await self.handle(msg)
            # Not kept while the next message is awaited (most sockets wait most of the time).
            del msg
            if self.closing:
                break

    async def handle(self, msg: Any) -> None:
        kind: str | None = None
        try:
            data = self.decode(msg)
            kind = data["type"]
            await COMMANDS[kind].handle(self, data)
        except ProtocolError as exc:
            self.send(error(exc.code, about=kind))
        except RoomError as exc:
            self.send(error(exc.room_code, about=kind))
        except Exception:
            log.exception("room %s: message failed", self.room_id)
            self.send(error("server-error"))

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
        try:
            if self.kicked is None:
                if not self.closing:
                    self.closing = True
                    self.put(Close(1000))
                if self.writer is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            asyncio.shield(self.writer), self.limits.close_timeout + 1
                        )
        finally:
            if self.writer is not None:
                await cancel_and_wait(self.writer)
        if not self.ws.closed:
            code = CLOSE_CODES.get(self.kicked or "", 1000)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    await self.ws.close(code=code)

    # --- outbound ---------------------------------------------------------------------------

    async def write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.outbox:
                self.wake = loop.create_future()
                await self.wake
                continue
            if not await self.write(self.take()):
                return

    def take(self) -> list[str | Close]:
        batch, self.outbox = self.outbox, []
        return batch

    async def write(self, batch: list[str | Close]) -> bool:
        """Sends a batch (its own frame: nothing sent stays referenced while the writer
        waits); False once the socket is closed."""
        for item in batch:
            if isinstance(item, Close):
                await self.ws.close(code=item.code)
                return False
            try:
                await self.ws.send_str(item)
            except ConnectionError:
                return False
        return True

    def put(self, item: str | Close) -> bool:
        """Sends at once when nothing waits before it; else queues for the writer, False when
        the queue is full."""
        if (
            type(item) is str
            and not self.outbox
            # No writer yet, or a parked one: it holds nothing that must go out first.
            and (self.writer is None or (self.wake is not None and not self.wake.done()))
            and not self.ws.closed
            and self.transport is not None
            and not self.transport.is_closing()
            and not self.transport.get_write_buffer_size()  # nor the transport (flow control)
        ):
            # The common case, a relayed message to an idle socket: one frame written here,
            # without the writer task's wake-up and aiohttp's two coroutines per frame.
            self.transport.write(text_frame(item))
            return True
        if len(self.outbox) >= self.limits.queue_size:
            return False
        self.outbox.append(item)
        if self.writer is None:
            # Started on the first message that has to wait (most sockets never have one): a
            # task and its frame less per socket.
            self.writer = asyncio.create_task(self.write_loop(), name=f"room-{self.room_id}-writer")
        elif self.wake is not None and not self.wake.done():
            self.wake.set_result(None)
        return True

    def send(self, message: dict[str, Any]) -> None:
        self.send_text(encode(message))

    def send_text(self, text: str) -> None:
        if self.closing:
            return
        if not self.put(text):
            self.kick("too-slow")

    def fail(self, code: str) -> None:
        """Tells the client why, then closes with the matching close code."""
        self.send(error(code))
        self.close(CLOSE_CODES.get(code, 4400))

    def close(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        if not self.put(Close(code)):
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
        to = event.get("to")
        if to is not None and to != self.me_id and self.members is not None:
            return  # a signal or direct message for another member: most events of a room
        if self.members is None:
            self.pending.append(event)  # the join is under way (its principal too)
            return
        kind = event.get("kind")
        if kind == "revoked":
            if self.principal.session_id in event.get("sessions", ()):
                self.fail("not-authenticated")
            return
        handler = self.EVENTS.get(str(kind))
        if handler is not None:
            handler(self, event)

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
            if event.get("presence") == "on":
                if event.get("session") == self.session:
                    self.announced = True
                elif not self.announced:
                    # Published before our own arrival: that older socket yields to us.
                    return
                else:
                    self.departure = "replaced"
                    self.fail("replaced")  # the same person joined again elsewhere; newer stays
                    return
            if event.get("presence") == "off":
                return  # our own departure (or an older session's), nothing to tell
            new = replace(new, session=self.session)
        if new.id == self.me_id and "chat" in event:
            self.chat = list(event["chat"])  # my new sub-room's, read by the mediator's actor
        before, after = self.members, {**self.members, new.id: new}
        self.members, self.hosted = after, policy.hosted_subrooms(after.values())
        for message in audience.tell(self.me_id, before, after, new.id, str(event["reason"])):
            if message["type"] in ("admitted", "moved"):
                message["chat"] = self.chat
            self.send(message)
        if new.id == self.me_id and new.admission == "removed":
            self.departure = "removed"
            self.close(CLOSE_CODES["removed"])
        self.update_lobby()

    def on_update_event(self, event: Event) -> None:
        """A member's own state changed (media, quality, hand, consent): no one's view of who
        is present changes, so only those who see the member are told."""
        assert self.members is not None
        new = MemberState.from_wire(event["member"])
        old = self.members.get(new.id)
        if old is None or old.session != new.session:
            return  # an update from a session that is already replaced or gone
        self.members[new.id] = new
        if audience.hears_update(self.me, self.members, new.id):
            self.send_text(event["text"])

    def on_signal_event(self, event: Event) -> None:
        assert self.members is not None
        if event.get("to") != self.me_id or event.get("toSession") not in (None, self.session):
            return
        sender = self.members.get(int(event["from"]))
        # Checked again on this side: a relay never crosses sub-rooms or reaches the lobby, even
        # if the sender's process had an older view of the room.
        if sender is None or not policy.may_signal(sender, self.me, self.hosted):
            return
        self.send_text(event["text"])

    def on_direct_event(self, event: Event) -> None:
        """`asked`, `muted`: to one member, from a host it sees."""
        assert self.members is not None
        sender = self.members.get(int(event["from"]))
        if event.get("to") != self.me_id or sender is None:
            return
        if policy.may_host(sender.role) and policy.sees(self.me, sender, self.hosted):
            self.send_text(event["text"])

    def on_call_event(self, event: Event) -> None:
        if audience.hears_call(self.me):
            self.send_text(event["text"])

    def on_chat_event(self, event: Event) -> None:
        if self.me_id in event["audience"]:
            self.chat = [*self.chat[-(session.CHAT_HISTORY - 1) :], event["message"]]
            self.send_text(event["text"])

    def on_recording_event(self, event: Event) -> None:
        self.recording = bool(event["on"])
        self.send_text(event["text"])

    def on_ended_event(self, event: Event) -> None:
        self.room_state = "closed"
        self.send_text(event["text"])
        self.departure = "ended"
        self.close(CLOSE_CODES["ended"])

    def on_room_event(self, event: Event) -> None:
        self.room_state = str(event["state"])
        self.send(outgoing("room-state", state=self.room_state))
        if self.room_state == "closed":
            self.fail("room-closed")

    EVENTS: ClassVar[dict[str, Callable[[Connection, Event], None]]] = {
        "member": on_member_event,
        "update": on_update_event,
        "signal": on_signal_event,
        "direct": on_direct_event,
        "call": on_call_event,
        "chat": on_chat_event,
        "recording": on_recording_event,
        "ended": on_ended_event,
        "room": on_room_event,
    }

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

    # --- publishing -------------------------------------------------------------------------

    async def publish(self, kind: str, outbound: dict[str, Any], **fields: Any) -> None:
        """A message for several members, encoded once here; each recipient's actor decides
        from `fields` whether it is for its member."""
        await self.bus.publish(self.room_id, {"kind": kind, "text": encode(outbound), **fields})

    async def publish_member(
        self, member: MemberState, reason: str, presence: str | None, **extra: Any
    ) -> None:
        durable = replace(member, session=None).wire()
        await self.bus.publish(
            self.room_id,
            {
                "kind": "member",
                "reason": reason,
                "member": durable,
                "presence": presence,
                "session": self.session if presence else None,
                **extra,
            },
        )

    async def publish_update(self, member: MemberState) -> None:
        """My own state changed: `member-updated` to whoever sees me."""
        assert self.members is not None
        me = replace(member, session=self.session)
        self.members[me.id] = me
        wire = me.wire()
        await self.publish("update", outgoing("member-updated", member=wire), member=wire)

    async def guard_recording(self, member: MemberState) -> None:
        """A member without consent arriving in the joint session stops its recording."""
        if not self.recording or member.consent or not policy.present_in_main(member):
            return
        async with transaction(self.app) as db:
            room = await session.room_by_id(db, self.room_id)
            stopped = await session.stop_recording(db, room, "system")
        if stopped:
            await self.publish("recording", outgoing("recording", on=False, by=None), on=False)
