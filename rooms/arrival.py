"""A join in one transaction on one pooled connection: a one-statement snapshot of the room (its
case, its appointment's start, every member row), the access check, the opening time, where the
member lands (policy.decide_join) with its one write, the chat history — then, after the commit,
the revocation check (see `arrive`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import engine_key, utcnow
from app.errors import NotFound
from app.models import Case
from app.policy import load_case
from booking.models import Appointment
from rooms import policy, services, session
from rooms.models import Room, RoomMember
from rooms.policy import MemberState
from rooms.services import ROOM_NOT_FOUND, Entry, RoomError


@dataclass(frozen=True)
class Snapshot:
    room: Room
    case: Case
    start: datetime | None  # of the room's appointment, when it has one
    rows: list[RoomMember]


@dataclass
class Arrival:
    """What a join found and did. `me` is None when the member may not enter yet (early) or at
    all (`concluded`: the case is over, its rooms must close). `revoked`: the browser session
    was revoked (read after the commit): the socket must close."""

    entry: Entry
    opening: session.Opening
    me: MemberState | None = None
    members: list[MemberState] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    concluded: bool = False
    revoked: bool = False


async def snapshot(db: AsyncSession, room_id: int) -> Snapshot | None:
    """The room, its case, its appointment's start and its members, in one statement."""
    rows = (
        await db.execute(
            select(Room, Case, Appointment.starts_at, RoomMember)
            .join(Case, Case.id == Room.case_id)
            .outerjoin(Appointment, Appointment.id == Room.appointment_id)
            .outerjoin(RoomMember, RoomMember.room_id == Room.id)
            .where(Room.id == room_id)
            .order_by(RoomMember.id)
        )
    ).all()
    if not rows:
        return None
    room, case, start, _ = rows[0]
    return Snapshot(room, case, start, [row[3] for row in rows if row[3] is not None])


async def arrive(app: web.Application, principal: Principal, room_id: int, minutes: int) -> Arrival:
    """Joins `principal` to the room: raises NotFound (no such room, or not its case) or
    RoomError (refused by decide_join).

    The revocation check reads after the member row committed: a revocation committed before
    that read is seen here; one committed after it finds the row (services.open_rooms_of) and
    reaches the socket through the bus, to which the caller subscribed before calling this.
    Both run on one pooled connection.
    """
    async with app[engine_key].connect() as conn:
        db = AsyncSession(bind=conn, expire_on_commit=False)
        async with db.begin():
            arrival = await _join(db, principal, room_id, minutes)
        if arrival.me is not None:
            arrival.revoked = await services.session_revoked(db, principal.session_id)
        await db.close()
    return arrival


async def _join(db: AsyncSession, principal: Principal, room_id: int, minutes: int) -> Arrival:
    snap = await snapshot(db, room_id)
    role = policy.room_role(principal.kind, principal.role)
    if snap is None or role is None:
        raise NotFound(ROOM_NOT_FOUND)
    try:
        await load_case(db, principal, snap.case.id)  # the snapshot's case: no new read
    except NotFound:
        raise NotFound(ROOM_NOT_FOUND) from None
    entry = Entry(snap.room, snap.case, role)
    now = utcnow()
    if snap.room.appointment_id is not None:
        opening = session.Opening(policy.opening(snap.start, minutes), False)
    else:
        opening = await session.opening(db, snap.room, now, minutes)
    arrival = Arrival(entry, opening)
    if snap.case.status in policy.CONCLUDED_CASE_STATUSES:
        arrival.concluded = True
        return arrival
    if policy.not_open_yet(role, now, opening.opens, opening.shut):
        return arrival  # the opening's binding still commits
    row = next((r for r in snap.rows if r.principal == principal.key), None)
    same_session = (
        row is not None
        and row.web_session_id is not None
        and row.web_session_id == principal.session_id
    )
    decision = policy.decide_join(
        role,
        services.state_of(row) if row is not None else None,
        policy.room_state_for(snap.room.state, snap.case.status),
        same_session,
    )
    if isinstance(decision, str):
        raise RoomError(decision)
    values = {
        "role": role,
        "display_name": principal.name[:64],
        "admission": decision.admission,
        "subroom": decision.subroom,
        "web_session_id": principal.session_id,
        "live": None,  # a new connection reports its own media state afresh
    }
    if row is None:
        row = await _insert(db, room_id, principal.key, values)
        if row is None:  # a concurrent first join of the same person inserted it first
            row = await _claim(db, room_id, principal.key, values)
    else:
        await _update(db, row, values)
    me = services.state_of(row)
    arrival.me = me
    arrival.members = [me if r.id == me.id else services.state_of(r) for r in snap.rows]
    if all(m.id != me.id for m in arrival.members):
        arrival.members.append(me)
    arrival.chat = await session.chat_history(db, snap.room, me)
    return arrival


async def _insert(
    db: AsyncSession, room_id: int, key: str, values: dict[str, Any]
) -> RoomMember | None:
    """The member's first row, in one statement; None when a concurrent join inserted it."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted: RoomMember | None = await db.scalar(
        insert(RoomMember)
        .values(room_id=room_id, principal=key, updated_at=utcnow(), **values)
        .on_conflict_do_nothing(index_elements=["room_id", "principal"])
        .returning(RoomMember)
    )
    return inserted


async def _claim(db: AsyncSession, room_id: int, key: str, values: dict[str, Any]) -> RoomMember:
    row = await db.scalar(
        select(RoomMember).where(RoomMember.room_id == room_id, RoomMember.principal == key)
    )
    assert row is not None
    await _update(db, row, values)
    return row


async def _update(db: AsyncSession, row: RoomMember, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    await db.flush()
