"""The live session's use cases beyond admission (no HTTP, no sockets): when the room opens,
media state, chat kept in the case timeline, recording consent, recording, ending the session."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_row, utcnow
from app.errors import Conflict
from app.i18n import N_
from app.models import CaseEvent
from rooms import policy
from rooms.models import Room, RoomMember
from rooms.policy import Live, MemberState
from rooms.services import RoomError, state_of

CHAT_KIND = "room_chat"
CHAT_HISTORY = 50
CHAT_SCAN = 1000  # recent chat events of the case read to find a member's last 50


@dataclass(frozen=True)
class Upcoming:
    """The case's next appointment not yet held, as a room without one reads it."""

    id: int
    starts_at: datetime


@dataclass(frozen=True)
class Opening:
    """When parties may enter: `opens` (None: no appointment) unless `shut` (ended, nothing
    booked since)."""

    opens: datetime | None
    shut: bool

    def wire(self) -> str | None:
        return self.opens.isoformat() if self.opens is not None else None


async def opening(
    db: AsyncSession, room: Room, minutes: int, upcoming: Upcoming | None, any_ended: bool
) -> Opening:
    """The opening of a room without an appointment, from what the join's snapshot read: it
    takes the case's next appointment not yet held (`upcoming`, bound here, once, by a
    conditional update); with none, it is shut if a session of the case was ended."""
    if upcoming is not None:
        await db.execute(
            update(Room)
            .where(Room.id == room.id, Room.appointment_id.is_(None))
            .values(appointment_id=upcoming.id)
            .execution_options(synchronize_session=False)
        )
        return Opening(policy.opening(upcoming.starts_at, minutes), False)
    return Opening(None, any_ended)


async def do_live(db: AsyncSession, room_id: int, member_id: int, live: Live) -> MemberState:
    row = await db.get(RoomMember, member_id)
    if row is None or row.room_id != room_id:
        raise RoomError("no-such-member")
    row.live = live.stored()
    await db.flush()
    return state_of(row)


async def do_consent(
    db: AsyncSession, room: Room, member_id: int, consent: bool, actor: str
) -> tuple[MemberState, bool]:
    """Records (with time) a member's consent to recording, or its withdrawal, which stops a
    running recording. Returns the member and whether a recording was stopped."""
    await lock_row(db, Room, room.id)  # serialised with `do_record`'s consent check
    row = await db.get(RoomMember, member_id)
    if row is None or row.room_id != room.id:
        raise RoomError("no-such-member")
    row.consent_at = utcnow() if consent else None
    data = {"room": room.id, "member": row.id, "consent": consent}
    db.add(
        CaseEvent(case_id=room.case_id, kind="room_consent", actor=actor, public=False, data=data)
    )
    stopped = False
    if not consent:
        stopped = await _set_recording(db, room, False, actor)
    await db.flush()
    return state_of(row), stopped


async def do_record(
    db: AsyncSession, room: Room, actor: MemberState, on: bool, present: list[int], who: str
) -> bool:
    """Starts or stops recording of the joint session; True when the state changed. `present`:
    the members in `main` now (presence is not in the database); each must have consented."""
    if not policy.may_host(actor.role):
        raise RoomError("not-allowed")
    await lock_row(db, Room, room.id)
    if on:
        consents = await db.scalars(
            select(RoomMember.consent_at).where(
                RoomMember.id.in_(present), RoomMember.room_id == room.id
            )
        )
        if any(at is None for at in consents):
            raise RoomError("no-consent")
    return await _set_recording(db, room, on, who)


async def _set_recording(db: AsyncSession, room: Room, on: bool, actor: str) -> bool:
    changed = await db.execute(
        update(Room)
        .where(Room.id == room.id, Room.recording.is_(not on), Room.state != "closed")
        .values(recording=on)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    kind = "room_recording_started" if on else "room_recording_stopped"
    db.add(CaseEvent(case_id=room.case_id, kind=kind, actor=actor, data={"room": room.id}))
    return True


async def do_end(db: AsyncSession, room: Room, actor: MemberState, who: str) -> bool:
    """Ends the session for everyone: the room closes (conditional: once) until the next
    appointment opens another. True when this call ended it."""
    if not policy.may_host(actor.role):
        raise RoomError("not-allowed")
    changed = await db.execute(
        update(Room)
        .where(Room.id == room.id, Room.state != "closed")
        .values(state="closed", ended_at=utcnow(), recording=False)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    db.add(CaseEvent(case_id=room.case_id, kind="room_ended", actor=who, data={"room": room.id}))
    return True


async def do_chat(
    db: AsyncSession,
    room: Room,
    sender: dict[str, Any],
    subroom: str,
    text: str,
    audience: list[int],
) -> dict[str, Any]:
    """Keeps a chat message in the case timeline, visible to staff only (not public) and, in
    the room, to its audience (the members who could hear it). Returns the wire message."""
    event = CaseEvent(
        case_id=room.case_id,
        kind=CHAT_KIND,
        actor=sender["principal"],
        public=False,
        data={
            "room": room.id,
            "subroom": subroom,
            "from": {k: sender[k] for k in ("id", "role", "name")},
            "text": text,
            "audience": sorted(audience),
        },
    )
    db.add(event)
    await db.flush()
    return chat_message(event, sender.get("session"))


class ChatEvent(Protocol):
    """A chat event of the timeline as chat_message reads it (a CaseEvent or a row of its
    columns)."""

    @property
    def id(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def at(self) -> datetime: ...


def chat_message(event: ChatEvent, session: str | None = None) -> dict[str, Any]:
    data = event.data
    return {
        "id": event.id,
        "from": {**data["from"], "session": session},
        "text": data["text"],
        "subroom": data["subroom"],
        "at": event.at.isoformat(),
    }


@functools.cache
def _chat_query() -> Select[int, dict[str, Any], datetime]:
    """The case's recent chat, built once (every join and admit reads it); `case_id`."""
    return (
        select(CaseEvent.id, CaseEvent.data, CaseEvent.at)
        .where(CaseEvent.case_id == bindparam("case_id"), CaseEvent.kind == CHAT_KIND)
        .order_by(CaseEvent.id.desc())
        .limit(CHAT_SCAN)
    )


async def chat_history(
    db: AsyncSession, room_id: int, case_id: int, me: MemberState
) -> list[dict[str, Any]]:
    """The last CHAT_HISTORY messages of `me`'s sub-room that `me` could hear (hosts: all);
    none for a knock (read again when it is admitted)."""
    if me.admission != "admitted":
        return []
    rows = await db.execute(_chat_query(), {"case_id": case_id})
    mine = [e for e in rows if heard(e.data, room_id, me)][:CHAT_HISTORY]
    return [chat_message(e) for e in reversed(mine)]


def heard(data: dict[str, Any], room_id: int, me: MemberState) -> bool:
    if data.get("room") != room_id or data.get("subroom") != me.subroom:
        return False
    return policy.may_host(me.role) or me.id in data.get("audience", ())


async def room_by_id(db: AsyncSession, room_id: int) -> Room:
    room = await db.get(Room, room_id)
    if room is None:
        raise RoomError("not-found")
    return room


async def stop_recording(db: AsyncSession, room: Room, actor: str) -> bool:
    return await _set_recording(db, room, False, actor)


NOT_RECORDING = N_(
    "The joint session is not being recorded now, or you are not in it with your consent."
)


async def recordable(db: AsyncSession, room_id: int, principal_key: str) -> tuple[Room, int]:
    """The room and the member id whose audio may be recorded now: the room is being recorded,
    and the member is admitted in the joint session with its consent (else Conflict)."""
    room = await db.get(Room, room_id)
    row = await db.scalar(
        select(RoomMember).where(
            RoomMember.room_id == room_id, RoomMember.principal == principal_key
        )
    )
    if (
        room is None
        or not room.recording
        or row is None
        or row.admission != "admitted"
        or row.subroom != policy.MAIN
        or row.consent_at is None
    ):
        raise Conflict(NOT_RECORDING)
    return room, row.id
