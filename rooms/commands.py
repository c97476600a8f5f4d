"""One function per client message (rooms/PROTOCOL.md, "Client → server"). Each command declares
how its message is validated (`schema`: the cleaned arguments or ProtocolError) and who may send
it (`host`: hosts only; `admitted`: members in the room, held parties included); the actor
(rooms/connection.py) checks both before running it. Messages for several members are encoded
once and published on the room bus; each recipient's actor decides whether they are its to send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from app.db import transaction
from rooms import audience, policy, services, session
from rooms.policy import QUALITY_LEVELS, MemberState
from rooms.protocol import (
    CLOSE_CODES,
    ProtocolError,
    member_id,
    outgoing,
    signal_payload,
)

if TYPE_CHECKING:
    from rooms.connection import Connection

MAX_CHAT = 1000
ASKS = ("mute", "camera-off")


@dataclass(frozen=True)
class Command:
    run: Callable[[Connection, Any], Awaitable[None]]
    schema: Callable[[dict[str, Any]], Any]
    host: bool = False
    admitted: bool = False

    async def handle(self, conn: Connection, data: dict[str, Any]) -> None:
        if self.host and not policy.may_host(conn.me.role):
            raise ProtocolError("not-allowed")
        if self.admitted and conn.me.admission != "admitted":
            raise ProtocolError("not-admitted")
        await self.run(conn, self.schema(data))


# --- schemas ----------------------------------------------------------------------------------


def nothing(data: dict[str, Any]) -> None:
    return None


def flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if type(value) is not bool:
        raise ProtocolError("invalid-message")
    return value


def choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise ProtocolError("invalid-message")
    return str(value)


def move_schema(data: dict[str, Any]) -> tuple[int, str]:
    subroom = data.get("subroom")
    if not isinstance(subroom, str):
        raise ProtocolError("invalid-message")
    return member_id(data), subroom


def media_schema(data: dict[str, Any]) -> tuple[bool, bool, bool, bool]:
    return (
        flag(data, "audio"),
        flag(data, "video"),
        flag(data, "screen"),
        flag(data, "audioOnly"),
    )


def chat_schema(data: dict[str, Any]) -> str:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError("invalid-message")
    if len(text) > MAX_CHAT:
        raise ProtocolError("too-long")
    return text


# --- admission and relay ----------------------------------------------------------------------


async def join_again(conn: Connection, _: None) -> None:
    raise ProtocolError("already-joined")


async def ping(conn: Connection, _: None) -> None:
    conn.send(outgoing("pong"))


async def signal(conn: Connection, args: tuple[int, dict[str, Any]]) -> None:
    assert conn.members is not None
    to, payload = args
    target = conn.members.get(to)
    if target is None or not policy.sees(conn.me, target, conn.hosted):
        raise ProtocolError("not-reachable")
    message = outgoing("signal", **{"from": conn.stamp()}, **payload)
    await conn.publish("signal", message, to=to, toSession=target.session, **{"from": conn.me_id})


async def admit(conn: Connection, target: int) -> None:
    async with transaction(conn.app) as db:
        member = await services.do_admit(db, conn.room_id, conn.me, target)
        history = await session.chat_history(db, conn.room_id, conn.case_id, member)
    await conn.publish_member(member, "admitted", presence=None, chat=history)
    await conn.guard_recording(online(conn, member))


async def remove(conn: Connection, target: int) -> None:
    async with transaction(conn.app) as db:
        member = await services.do_remove(db, conn.room_id, conn.me_id, target)
    await conn.publish_member(member, "removed", presence=None)


async def move(conn: Connection, args: tuple[int, str]) -> None:
    target, subroom = args
    async with transaction(conn.app) as db:
        member = await services.do_move(db, conn.room_id, conn.me_id, target, subroom)
        history = await session.chat_history(db, conn.room_id, conn.case_id, member)
    await conn.publish_member(member, "moved", presence=None, chat=history)
    await conn.guard_recording(online(conn, member))


def online(conn: Connection, member: MemberState) -> MemberState:
    known = (conn.members or {}).get(member.id)
    return replace(member, session=known.session if known is not None else None)


async def lock(conn: Connection, _: None) -> None:
    await set_room_state(conn, "locked")


async def unlock(conn: Connection, _: None) -> None:
    await set_room_state(conn, "open")


async def set_room_state(conn: Connection, state: str) -> None:
    async with transaction(conn.app) as db:
        await services.do_set_state(db, conn.room_id, conn.me_id, state)
    await conn.bus.publish(conn.room_id, {"kind": "room", "state": state})


async def leave(conn: Connection, _: None) -> None:
    async with transaction(conn.app) as db:
        member = await services.do_leave(db, conn.room_id, conn.me_id)
    if member is not None and conn.members is not None:
        conn.members[conn.me_id] = replace(member, session=conn.session)
    conn.departure = "left"
    conn.close(CLOSE_CODES["left"])


# --- my own state -----------------------------------------------------------------------------


async def media(conn: Connection, flags: tuple[bool, bool, bool, bool]) -> None:
    audio, video, screen, audio_only = flags
    live = replace(conn.me.live, audio=audio, video=video, screen=screen, audio_only=audio_only)
    await set_live(conn, live)


async def quality(conn: Connection, level: str) -> None:
    await set_live(conn, replace(conn.me.live, quality=level))


async def hand(conn: Connection, raised: bool) -> None:
    await set_live(conn, replace(conn.me.live, hand=raised))


async def set_live(conn: Connection, live: policy.Live) -> None:
    if live == conn.me.live:
        return  # nothing changed: nobody is told, nothing is written
    async with transaction(conn.app) as db:
        member = await session.do_live(db, conn.room_id, conn.me_id, live)
    await conn.publish_update(member)


async def consent(conn: Connection, given: bool) -> None:
    async with transaction(conn.app) as db:
        room = await session.room_by_id(db, conn.room_id)
        member, stopped = await session.do_consent(db, room, conn.me_id, given, conn.principal.key)
    await conn.publish_update(member)
    if stopped:
        await conn.publish("recording", outgoing("recording", on=False, by=conn.stamp()), on=False)


# --- a host's controls ------------------------------------------------------------------------


async def ask(conn: Connection, args: tuple[int, str]) -> None:
    target, what = args
    await direct(conn, target, outgoing("asked", what=what, **{"from": conn.stamp()}))


async def mute(conn: Connection, target: int) -> None:
    await direct(conn, target, outgoing("muted", by=conn.stamp()))


async def direct(conn: Connection, target: int, message: dict[str, Any]) -> None:
    assert conn.members is not None
    member = conn.members.get(target)
    if member is None:
        raise ProtocolError("no-such-member")
    if not policy.sees(conn.me, member, conn.hosted):
        raise ProtocolError("not-reachable")
    await conn.publish("direct", message, to=target, **{"from": conn.me_id})


async def record(conn: Connection, on: bool) -> None:
    assert conn.members is not None
    present = [m for m in conn.members.values() if policy.present_in_main(m)]
    if on and not policy.recording_allowed(present):
        raise ProtocolError("no-consent")
    async with transaction(conn.app) as db:
        room = await session.room_by_id(db, conn.room_id)
        changed = await session.do_record(
            db, room, conn.me, on, [m.id for m in present], conn.principal.key
        )
    if changed:
        await conn.publish("recording", outgoing("recording", on=on, by=conn.stamp()), on=on)


async def end(conn: Connection, _: None) -> None:
    async with transaction(conn.app) as db:
        room = await session.room_by_id(db, conn.room_id)
        ended = await session.do_end(db, room, conn.me, conn.principal.key)
    if ended:
        await conn.publish("ended", outgoing("ended", by=conn.stamp()))


# --- to several -------------------------------------------------------------------------------


async def call_host(conn: Connection, _: None) -> None:
    if not audience.may_call(conn.me):
        raise ProtocolError("not-admitted")
    await conn.publish("call", outgoing("host-called", member=conn.me.wire()))


async def chat(conn: Connection, text: str) -> None:
    assert conn.members is not None
    listeners = audience.chat_audience(conn.me, conn.members)
    sender = {**conn.stamp(), "principal": conn.principal.key}
    async with transaction(conn.app) as db:
        room = await session.room_by_id(db, conn.room_id)
        message = await session.do_chat(db, room, sender, conn.me.subroom, text, listeners)
    await conn.publish(
        "chat", outgoing("chat", message=message), audience=listeners, message=message
    )


# The dispatch table: one entry per client message type (a test holds it equal to
# protocol.CLIENT_TYPES and to the types documented in rooms/PROTOCOL.md).
COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        "join": Command(join_again, nothing),
        "signal": Command(signal, lambda d: (member_id(d, "to"), signal_payload(d)), admitted=True),
        "admit": Command(admit, member_id),
        "remove": Command(remove, member_id),
        "move": Command(move, move_schema),
        "lock": Command(lock, nothing),
        "unlock": Command(unlock, nothing),
        "leave": Command(leave, nothing),
        "ping": Command(ping, nothing),
        "media": Command(media, media_schema),
        "quality": Command(quality, lambda d: choice(d, "level", QUALITY_LEVELS)),
        "hand": Command(hand, lambda d: flag(d, "raised")),
        "ask": Command(ask, lambda d: (member_id(d), choice(d, "what", ASKS)), host=True),
        "mute": Command(mute, member_id, host=True),
        "call-host": Command(call_host, nothing, admitted=True),
        "chat": Command(chat, chat_schema, admitted=True),
        "consent": Command(consent, lambda d: flag(d, "recording")),
        "record": Command(record, lambda d: flag(d, "on"), host=True, admitted=True),
        "end": Command(end, nothing, host=True),
    }
)
