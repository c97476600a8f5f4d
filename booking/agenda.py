"""The case's agenda as other features may read it (rooms opens its room by it): read-only
answers about booked appointments, without exposing booking's tables."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Appointment


@dataclass(frozen=True)
class Booked:
    id: int
    starts_at: datetime
    ends_at: datetime


def next_booked(case_id: Any, now: Any, held: Any = ()) -> Select[int, datetime, datetime]:
    """The query behind `next_appointment`: the id, start and end of the case's earliest booked
    appointment not ended by `now`, leaving out `held` (ids, or a subquery of ids). `case_id`
    and `now` may be a column and a bound parameter, so that another feature can read it
    inside its own statement."""
    query = (
        select(Appointment.id, Appointment.starts_at, Appointment.ends_at)
        .where(
            Appointment.case_id == case_id,
            Appointment.status == "booked",
            Appointment.ends_at > now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(1)
        .correlate_except(Appointment)  # inside another statement: its own appointments
    )
    if not isinstance(held, Collection) or held:
        query = query.where(Appointment.id.not_in(held))
    return query


async def next_appointment(
    db: AsyncSession, case_id: int, now: datetime, skip: Collection[int] = ()
) -> Booked | None:
    """The case's earliest booked appointment that has not ended by `now`, leaving out `skip`
    (appointments whose session already took place)."""
    row = (await db.execute(next_booked(case_id, now, list(skip)))).first()
    return Booked(row.id, row.starts_at, row.ends_at) if row is not None else None


async def appointment(db: AsyncSession, appointment_id: int) -> Booked | None:
    """One appointment (any status) by id."""
    row = (
        await db.execute(
            select(Appointment.id, Appointment.starts_at, Appointment.ends_at).where(
                Appointment.id == appointment_id
            )
        )
    ).first()
    return Booked(row.id, row.starts_at, row.ends_at) if row is not None else None
