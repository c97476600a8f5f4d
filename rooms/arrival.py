"""A join in one transaction on one pooled connection: the browser session with its person (the
socket's cookie, read here rather than at the upgrade), a one-statement snapshot of the room (its
case, its appointment's start or, without one, the case's next appointment, every member row),
the access check, the opening time, where the member lands (policy.decide_join) with its one
write, the chat history (see `arrive` for how a concurrent revocation is caught)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Select, bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningInsert

from app.auth import Principal, principal_from_session
from app.db import engine_key, table_of, utcnow
from app.errors import NotFound
from app.models import Case
from app.policy import load_case
from booking import agenda
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
    upcoming: session.Upcoming | None  # the case's next appointment not yet held
    any_ended: bool  # whether a session of the case was ended


@dataclass
class Arrival:
    """What a join found and did. `me` is None when the member may not enter yet (early) or at
    all (`concluded`: the case is over, its rooms must close)."""

    principal: Principal
    entry: Entry
    opening: session.Opening
    me: MemberState | None = None
    members: list[MemberState] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    concluded: bool = False


@functools.cache
def _snapshot_query() -> Select[*tuple[Any, ...]]:
    """The snapshot's statement, built once (building it costs more than running it); its
    parameters are `room_id` and `now`."""
    ended = aliased(Room)
    of_case = (ended.case_id == Room.case_id, ended.ended_at.is_not(None))
    held = (
        select(ended.appointment_id)
        .where(*of_case, ended.appointment_id.is_not(None))
        .correlate(Room)  # two levels down: the room of the snapshot
    )
    upcoming = agenda.next_booked(Room.case_id, bindparam("now"), held)
    next_id = upcoming.with_only_columns(upcoming.selected_columns[0]).scalar_subquery()
    next_start = upcoming.with_only_columns(upcoming.selected_columns[1]).scalar_subquery()
    unbound = Room.appointment_id.is_(None)
    return (
        select(
            Room,
            Case,
            Appointment.starts_at,
            RoomMember,
            case((unbound, next_id)),
            case((unbound, next_start)),
            case((unbound, select(ended.id).where(*of_case).exists()), else_=False),
        )
        .join(Case, Case.id == Room.case_id)
        .outerjoin(Appointment, Appointment.id == Room.appointment_id)
        .outerjoin(RoomMember, RoomMember.room_id == Room.id)
        .where(Room.id == bindparam("room_id"))
        .order_by(RoomMember.id)
    )


async def snapshot(db: AsyncSession, room_id: int, now: datetime) -> Snapshot | None:
    """The room, its case, its appointment's start and its members, in one statement; for a
    room without an appointment, also what its opening needs (session.opening): the case's next
    appointment not held yet and whether any session of the case was ended."""
    rows = (await db.execute(_snapshot_query(), {"room_id": room_id, "now": now})).all()
    if not rows:
        return None
    room, found, start, _, next_id, next_start, any_ended = rows[0]
    members = [row[3] for row in rows if row[3] is not None]
    coming = session.Upcoming(next_id, next_start) if next_id is not None else None
    return Snapshot(room, found, start, members, coming, bool(any_ended))


async def arrive(app: web.Application, token: str, room_id: int, minutes: int) -> Arrival:
    """Joins the holder of the session `token` to the room: raises NotFound (no such room, or
    not its case) or RoomError (`not-authenticated`, or refused by decide_join).

    A revocation that commits while this runs must still reach the socket: either this sees
    it, or it sees the member row (services.open_rooms_of) and reaches the socket through the
    bus, to which the caller subscribed before calling this. On PostgreSQL the session row is
    share-locked from the first read to the commit, so a revocation waits for the member row;
    on SQLite the member's write takes the database's write lock, so the session is read again
    after it: a revocation committed before is seen, one after finds the row.
    """
    async with app[engine_key].connect() as conn:
        db = AsyncSession(bind=conn, expire_on_commit=False)
        async with db.begin():
            principal = await principal_from_session(db, token, hold=True)
            if principal is None:
                raise RoomError("not-authenticated")
            arrival = await _join(db, principal, room_id, minutes)
            if (
                arrival.me is not None
                and conn.dialect.name == "sqlite"
                and await services.session_revoked(db, principal.session_id)
            ):
                raise RoomError("not-authenticated")
        await db.close()
    return arrival


async def _join(db: AsyncSession, principal: Principal, room_id: int, minutes: int) -> Arrival:
    now = utcnow()
    snap = await snapshot(db, room_id, now)
    role = policy.room_role(principal.kind, principal.role)
    if snap is None or role is None:
        raise NotFound(ROOM_NOT_FOUND)
    try:
        await load_case(db, principal, snap.case.id)  # the snapshot's case: no new read
    except NotFound:
        raise NotFound(ROOM_NOT_FOUND) from None
    entry = Entry(snap.room, snap.case, role)
    if snap.room.appointment_id is not None:
        opening = session.Opening(policy.opening(snap.start, minutes), False)
    else:
        opening = await session.opening(db, snap.room, minutes, snap.upcoming, snap.any_ended)
    arrival = Arrival(principal, entry, opening)
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
        inserted = await _insert(db, room_id, principal.key, values)
        if inserted is None:  # a concurrent first join of the same person inserted it first
            inserted = await _claim(db, room_id, principal.key, values)
        me = services.state_of(inserted)
    else:
        await _update(db, row, values)
        me = services.state_of(row)
    arrival.me = me
    arrival.members = [me if r.id == me.id else services.state_of(r) for r in snap.rows]
    if all(m.id != me.id for m in arrival.members):
        arrival.members.append(me)
    arrival.chat = await session.chat_history(db, snap.room.id, snap.case.id, me)
    return arrival


@functools.cache
def _insert_query(dialect: str) -> ReturningInsert[Any]:
    """The member's first row (ON CONFLICT DO NOTHING), built once per dialect. On the table,
    not the mapped class: the ORM's bulk-insert machinery cost more than the statement."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(RoomMember)
    columns = ("room_id", "principal", "updated_at", *_JOIN_VALUES)
    return (
        insert(table)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=["room_id", "principal"])
        .returning(*table.c)
    )


_JOIN_VALUES = ("role", "display_name", "admission", "subroom", "web_session_id", "live")


async def _insert(
    db: AsyncSession, room_id: int, key: str, values: dict[str, Any]
) -> services.MemberRow | None:
    """The member's first row, in one statement; None when a concurrent join inserted it."""
    query = _insert_query(db.get_bind().dialect.name)
    params = {"room_id": room_id, "principal": key, "updated_at": utcnow(), **values}
    inserted: services.MemberRow | None = (await db.execute(query, params)).first()
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
