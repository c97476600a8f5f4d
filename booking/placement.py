"""A booking's own rows: the appointment, its people's cells (`slot_claims`), its members and
their days' counters (`staff_days`). On PostgreSQL one statement writes them all (data-modifying
CTEs); SQLite, which has none, takes four. Either way the database decides: the cells' unique
key refuses a taken slot, the counter's conditional upsert a full day (booking/day_load.py).
The results are the same on both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Integer, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of, table_of, utcnow
from app.errors import Conflict
from booking import day_load
from booking.models import Appointment, AppointmentMember, SlotClaim
from booking.slots import CELL


@dataclass(frozen=True)
class Placement:
    case_id: int
    staff_id: int  # the mediator
    starts_at: datetime
    ends_at: datetime
    created_by: str
    members: Sequence[tuple[int, str]]  # (staff_id, role), the mediator first
    cells: int  # claimed from starts_at for every member (the appointment and its buffer)
    days: Mapping[date, Sequence[int]]  # whose local day the appointment falls on


async def place(db: AsyncSession, placing: Placement, taken: str) -> Appointment:
    """Writes the booking's rows; Conflict(taken) when a cell is claimed already, and
    Conflict(DAY_FULL) when a day holds its person's maximum. Returns the appointment (not in
    the session: nothing reads it back)."""
    created_at = utcnow()
    try:
        if dialect_of(db) == "postgresql":
            appointment_id = await _place_postgresql(db, placing, created_at)
        else:
            appointment_id = await _place_sqlite(db, placing, created_at)
    except IntegrityError as exc:
        raise Conflict(taken) from exc
    return Appointment(
        id=appointment_id,
        case_id=placing.case_id,
        staff_id=placing.staff_id,
        starts_at=placing.starts_at,
        ends_at=placing.ends_at,
        status="booked",
        created_by=placing.created_by,
        created_at=created_at,
        sequence=0,
    )


def _claims(placing: Placement, appointment_id: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "staff_id": staff_id,
            "cell_start": placing.starts_at + CELL * i,
            "appointment_id": appointment_id,
        }
        for staff_id, _role in placing.members
        for i in range(placing.cells)
    ]


# Every sub-statement sees the same snapshot; the foreign keys of the claims and members are
# checked at the statement's end, when the appointment row exists. Only the counters actually
# written come back (the conditional upsert's WHERE), so a short count means a full day. The
# same upsert as day_load.take's; 2147483647 is day_load.NO_MAXIMUM.
_POSTGRESQL = text(
    """
WITH a AS (
  INSERT INTO appointments
    (case_id, staff_id, starts_at, ends_at, status, created_by, created_at, sequence)
  VALUES (:case_id, :staff_id, :starts_at, :ends_at, 'booked', :created_by, :created_at, 0)
  RETURNING id
), c AS (
  INSERT INTO slot_claims (staff_id, cell_start, appointment_id)
  SELECT u.staff_id, u.cell_start, a.id
  FROM a, unnest(CAST(:claim_staff AS integer[]), CAST(:claim_cells AS timestamptz[]))
    AS u(staff_id, cell_start)
), m AS (
  INSERT INTO appointment_members (appointment_id, staff_id, role)
  SELECT a.id, u.staff_id, u.role
  FROM a, unnest(CAST(:member_ids AS integer[]), CAST(:member_roles AS varchar[]))
    AS u(staff_id, role)
), d AS (
  INSERT INTO staff_days AS sd (staff_id, day, booked)
  SELECT u.staff_id, u.day, 1
  FROM unnest(CAST(:day_staff AS integer[]), CAST(:days AS date[])) AS u(staff_id, day)
  ON CONFLICT (staff_id, day) DO UPDATE SET booked = sd.booked + 1
  WHERE sd.booked < coalesce(
    (SELECT daily_max FROM booking_profiles WHERE booking_profiles.staff_id = sd.staff_id),
    2147483647)
  RETURNING sd.staff_id
)
SELECT a.id, (SELECT count(*) FROM d) AS written FROM a
"""
).columns(id=Integer, written=Integer)


async def _place_postgresql(db: AsyncSession, placing: Placement, created_at: datetime) -> int:
    claims = _claims(placing)
    day_staff = [(staff_id, day) for day, ids in placing.days.items() for staff_id in ids]
    values = {
        "case_id": placing.case_id,
        "staff_id": placing.staff_id,
        "starts_at": placing.starts_at.astimezone(UTC),
        "ends_at": placing.ends_at.astimezone(UTC),
        "created_by": placing.created_by,
        "created_at": created_at,
        "claim_staff": [c["staff_id"] for c in claims],
        "claim_cells": [c["cell_start"].astimezone(UTC) for c in claims],
        "member_ids": [staff_id for staff_id, _role in placing.members],
        "member_roles": [role for _staff_id, role in placing.members],
        "day_staff": [staff_id for staff_id, _day in day_staff],
        "days": [day for _staff_id, day in day_staff],
    }
    appointment_id, written = (await db.execute(_POSTGRESQL, values)).one()
    if written != len(day_staff):
        raise Conflict(day_load.DAY_FULL)
    return int(appointment_id)


# Core statements on the tables, not the ORM's bulk inserts: the same rows for less CPU.
_APPOINTMENTS = table_of(Appointment)
_NEW_APPOINTMENT = insert(_APPOINTMENTS).returning(_APPOINTMENTS.c.id)
_NEW_CLAIMS = insert(table_of(SlotClaim))
_NEW_MEMBERS = insert(table_of(AppointmentMember))


async def _place_sqlite(db: AsyncSession, placing: Placement, created_at: datetime) -> int:
    appointment_id = await db.scalar(
        _NEW_APPOINTMENT,
        {
            "case_id": placing.case_id,
            "staff_id": placing.staff_id,
            "starts_at": placing.starts_at,
            "ends_at": placing.ends_at,
            "status": "booked",
            "created_by": placing.created_by,
            "created_at": created_at,
            "sequence": 0,
        },
    )
    assert appointment_id is not None
    await db.execute(_NEW_CLAIMS, _claims(placing, appointment_id))
    await day_load.take(db, placing.days)
    await db.execute(
        _NEW_MEMBERS,
        [
            {"appointment_id": appointment_id, "staff_id": staff_id, "role": role}
            for staff_id, role in placing.members
        ],
    )
    return int(appointment_id)
