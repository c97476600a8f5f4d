"""Room use cases (no HTTP, no sockets): the room of a case, join/admit/remove/move/leave/lock,
persisted in RoomMember so a reconnect or another app process sees the same state."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

from app.auth import Principal
from app.db import lock_row
from app.errors import NotFound, UserError
from app.models import Case, CaseEvent, WebSession
from app.policy import load_case
from app.settings import Settings
from rooms import policy
from rooms.models import Room, RoomMember
from rooms.policy import MemberState
from rooms.protocol import ERROR_MESSAGES

TURN_TTL_SECONDS = 12 * 3600
ROOM_NOT_FOUND = ERROR_MESSAGES["not-found"]


class RoomError(UserError):
    """A refused room action; `room_code` is a protocol error code (see rooms/protocol.py)."""

    def __init__(self, room_code: str) -> None:
        super().__init__(ERROR_MESSAGES[room_code])
        self.room_code = room_code


@dataclass(frozen=True)
class Entry:
    """A principal allowed into a room, with the role it takes there."""

    room: Room
    case: Case
    role: str


class MemberRow(Protocol):
    """A member's row as state_of reads it: a RoomMember, or a row of its table's columns."""

    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def admission(self) -> str: ...
    @property
    def subroom(self) -> str: ...
    @property
    def live(self) -> dict[str, Any] | None: ...
    @property
    def consent_at(self) -> datetime | None: ...


def state_of(row: MemberRow, session: str | None = None) -> MemberState:
    # Interned: every connection of the room keeps a state of every member, and each read of a
    # row makes new strings (one copy of "party", "admitted", "main" and each name, not one per
    # connection and member).
    return MemberState(
        id=row.id,
        role=sys.intern(row.role),
        name=sys.intern(row.display_name),
        admission=sys.intern(row.admission),
        subroom=sys.intern(row.subroom),
        session=session,
        live=policy.Live.from_stored(row.live),
        consent=row.consent_at is not None,
    )


async def room_for_case(db: AsyncSession, case_id: int, actor: str) -> Room:
    """The case's open room, created on first entry (one open room per case)."""
    # Concurrent first entries queue on the case row, so one room is created (both databases).
    await lock_row(db, Case, case_id)
    room = await _open_room(db, case_id)
    if room is None:
        room = Room(case_id=case_id, state="open")
        db.add(room)
        await db.flush()
        db.add(CaseEvent(case_id=case_id, kind="room_opened", actor=actor, data={"room": room.id}))
    return room


async def _open_room(db: AsyncSession, case_id: int) -> Room | None:
    # Lowest id wins, so even a duplicate created by a race leads everyone to the same room.
    return await db.scalar(
        select(Room)
        .where(Room.case_id == case_id, Room.state != "closed")
        .order_by(Room.id)
        .limit(1)
    )


async def room_of_case(db: AsyncSession, case_id: int) -> Room | None:
    return await _open_room(db, case_id)


async def enter(db: AsyncSession, principal: Principal, room_id: int) -> Entry:
    """The room, its case and the principal's role there — or NotFound, whether the room is
    missing or the principal may not see its case (the same answer either way)."""
    room = await db.get(Room, room_id)
    if room is None:
        raise NotFound(ROOM_NOT_FOUND)
    try:
        case = await load_case(db, principal, room.case_id)
    except NotFound:
        raise NotFound(ROOM_NOT_FOUND) from None
    role = policy.room_role(principal.kind, principal.role)
    if role is None:
        raise NotFound(ROOM_NOT_FOUND)
    return Entry(room, case, role)


async def do_join(db: AsyncSession, entry: Entry, principal: Principal) -> MemberState:
    """Records the member's arrival; where it lands is policy.decide_join's answer.

    The joining browser session is stored on the member: a knock is admitted for that session
    (admit leaves it as it is), and only that session comes back admitted later.
    """
    room = await db.get(Room, entry.room.id)  # fresh: the lock may have changed since `enter`
    if room is None:
        raise RoomError("not-found")
    row = await _member_by_principal(db, room.id, principal.key)
    same_session = (
        row is not None
        and row.web_session_id is not None
        and row.web_session_id == principal.session_id
    )
    decision = policy.decide_join(
        entry.role,
        state_of(row) if row is not None else None,
        policy.room_state_for(room.state, entry.case.status),
        same_session,
    )
    if isinstance(decision, str):
        raise RoomError(decision)
    if row is None:
        row = await _insert_member(db, entry, principal)
    row.role, row.display_name = entry.role, principal.name[:64]
    row.admission, row.subroom = decision.admission, decision.subroom
    row.web_session_id = principal.session_id
    row.live = None  # a new connection reports its own media state afresh
    await db.flush()
    return state_of(row)


async def _insert_member(db: AsyncSession, entry: Entry, principal: Principal) -> RoomMember:
    row = RoomMember(
        room_id=entry.room.id,
        principal=principal.key,
        role=entry.role,
        display_name=principal.name[:64],
    )
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        # The same person joined from two windows at once: the unique key decided; use theirs.
        existing = await _member_by_principal(db, entry.room.id, principal.key)
        assert existing is not None
        return existing
    return row


async def _member_by_principal(db: AsyncSession, room_id: int, key: str) -> RoomMember | None:
    return await db.scalar(
        select(RoomMember).where(RoomMember.room_id == room_id, RoomMember.principal == key)
    )


@functools.cache
def _actor_and_target_query() -> Select[RoomMember]:
    """Built once (every admit and move runs it): `room_id` and `ids`."""
    return (
        select(RoomMember)
        .where(
            RoomMember.room_id == bindparam("room_id"),
            RoomMember.id.in_(bindparam("ids", expanding=True)),
        )
        .order_by(RoomMember.id)
        .with_for_update()
    )


async def _actor_and_target(
    db: AsyncSession, room_id: int, actor_id: int, member_id: int
) -> tuple[MemberState, RoomMember | None]:
    """The actor's state and the target's row, in one read that holds both rows' locks until
    the commit (PostgreSQL; taken in id order, so two such reads never wait on each other)."""
    params = {"room_id": room_id, "ids": sorted({actor_id, member_id})}
    rows = {row.id: row for row in await db.scalars(_actor_and_target_query(), params)}
    actor = rows.get(actor_id)
    if actor is None:
        raise RoomError("no-such-member")
    return state_of(actor), rows.get(member_id)


async def _actor(db: AsyncSession, room_id: int, actor_id: int) -> MemberState:
    row = await db.get(RoomMember, actor_id)
    if row is None or row.room_id != room_id:
        raise RoomError("no-such-member")
    return state_of(row)


async def _decide(
    db: AsyncSession,
    room_id: int,
    actor_id: int,
    member_id: int,
    check: Callable[[MemberState, MemberState | None], str | None],
    admission: str,
) -> MemberState:
    """Admit or remove: the mediator's decision on one member, sent back to the main room."""
    actor, row = await _actor_and_target(db, room_id, actor_id, member_id)
    problem = check(actor, state_of(row) if row else None)
    if problem:
        raise RoomError(problem)
    assert row is not None
    row.admission, row.subroom = admission, policy.MAIN
    await db.flush()
    return state_of(row)


@functools.cache
def _admit_query() -> ReturningUpdate[RoomMember]:
    """Built once: `room`, `member`."""
    return (
        update(RoomMember)
        .where(
            RoomMember.id == bindparam("member"),
            RoomMember.room_id == bindparam("room"),
            RoomMember.admission != "admitted",
        )
        .values(admission="admitted", subroom=policy.MAIN)
        .returning(RoomMember)
        .execution_options(synchronize_session=False)
    )


async def do_admit(
    db: AsyncSession, room_id: int, actor: MemberState, member_id: int
) -> MemberState:
    """The mediator lets a member in, sent to the main room: one conditional write (the row's
    lock on PostgreSQL; on SQLite, the write lock first). `actor` is the admitting member as
    its connection knows it: only its role counts, and a member's role does not change."""
    if not policy.may_moderate(actor.role):
        raise RoomError("not-allowed")
    row = await db.scalar(_admit_query(), {"member": member_id, "room": room_id})
    if row is None:  # why not: no such member here, or already admitted
        target = await db.get(RoomMember, member_id)
        if target is None or target.room_id != room_id:
            raise RoomError("no-such-member")
        raise RoomError(policy.check_admit(actor, state_of(target)) or "already-admitted")
    return state_of(row)


async def do_remove(db: AsyncSession, room_id: int, actor_id: int, member_id: int) -> MemberState:
    return await _decide(db, room_id, actor_id, member_id, policy.check_remove, "removed")


async def do_move(
    db: AsyncSession, room_id: int, actor_id: int, member_id: int, subroom: str
) -> MemberState:
    actor, row = await _actor_and_target(db, room_id, actor_id, member_id)
    problem = policy.check_move(actor, state_of(row) if row else None, subroom)
    if problem:
        raise RoomError(problem)
    assert row is not None
    row.subroom = subroom
    await db.flush()
    return state_of(row)


async def do_leave(db: AsyncSession, room_id: int, member_id: int) -> MemberState | None:
    row = await db.get(RoomMember, member_id)
    if row is None or row.room_id != room_id:
        return None
    if row.role == "party":
        row.admission = "left"  # a party who left on purpose knocks again when coming back
    await db.flush()
    return state_of(row)


async def do_set_state(db: AsyncSession, room_id: int, actor_id: int, state: str) -> str:
    actor = await _actor(db, room_id, actor_id)
    if not policy.may_moderate(actor.role):
        raise RoomError("not-allowed")
    # Conditional: a lock or unlock racing the room's closing must never reopen it.
    changed = await db.execute(
        update(Room)
        .where(Room.id == room_id, Room.state != "closed")
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise RoomError("room-closed" if await db.get(Room, room_id) else "not-found")
    return state


async def do_close_rooms(db: AsyncSession, case_id: int) -> list[int]:
    """Closes the case's rooms (its case is concluded); the ids of those that were still open."""
    closed = await db.scalars(
        update(Room)
        .where(Room.case_id == case_id, Room.state != "closed")
        .values(state="closed")
        .returning(Room.id)
    )
    return sorted(closed)


async def open_rooms_of(db: AsyncSession, principals: tuple[str, ...]) -> list[int]:
    """Open rooms where any of these principals (`party:7`, `staff:3`) is a member."""
    if not principals:
        return []
    rows = await db.scalars(
        select(RoomMember.room_id)
        .join(Room, Room.id == RoomMember.room_id)
        .where(RoomMember.principal.in_(principals), Room.state != "closed")
        .distinct()
    )
    return sorted(rows)


@functools.cache
def _revoked_query() -> Select[datetime | None]:
    """Built once (every join runs it): `id`."""
    return select(WebSession.revoked_at).where(WebSession.id == bindparam("id"))


async def session_revoked(db: AsyncSession, session_id: int | None) -> bool:
    """Whether the browser session behind a live connection has been revoked (or is gone)."""
    if session_id is None:
        return False
    found = (await db.execute(_revoked_query(), {"id": session_id})).first()
    return found is None or found.revoked_at is not None


async def members(db: AsyncSession, room_id: int) -> list[MemberState]:
    rows = await db.scalars(
        select(RoomMember).where(RoomMember.room_id == room_id).order_by(RoomMember.id)
    )
    return [state_of(row) for row in rows]


async def room_state(db: AsyncSession, room_id: int) -> str:
    room = await db.get(Room, room_id)
    return room.state if room is not None else "closed"


def ice_servers(settings: Settings, principal_key: str, now: datetime) -> list[dict[str, Any]]:
    """STUN servers, plus TURN with coturn REST-API credentials (username "expiry:principal",
    password base64(HMAC-SHA1(secret, username))) valid for TURN_TTL_SECONDS."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_url and settings.turn_secret:
        username = f"{int(now.timestamp()) + TURN_TTL_SECONDS}:{principal_key}"
        digest = hmac.new(settings.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
        servers.append(
            {
                "urls": [settings.turn_url],
                "username": username,
                "credential": base64.b64encode(digest).decode(),
            }
        )
    return servers
