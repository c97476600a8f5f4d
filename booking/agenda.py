"""The case's agenda as other features may read it (rooms opens its room by it): read-only
answers about booked appointments, without exposing booking's tables."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Appointment


@dataclass(frozen=True)
class Booked:
    id: int
    starts_at: datetime
    ends_at: datetime


async def next_appointment(
    db: AsyncSession, case_id: int, now: datetime, skip: Collection[int] = ()
) -> Booked | None:
    """The case's earliest booked appointment that has not ended by `now`, leaving out `skip`
    (appointments whose session already took place)."""
    query = (
        select(Appointment.id, Appointment.starts_at, Appointment.ends_at)
        .where(
            Appointment.case_id == case_id,
            Appointment.status == "booked",
            Appointment.ends_at > now,
        )
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(1)
    )
    if skip:
        query = query.where(Appointment.id.not_in(list(skip)))
    row = (await db.execute(query)).first()
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
