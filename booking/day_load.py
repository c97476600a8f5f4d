"""The daily maximum, held by the database: one counter row per person and local day
(`StaffDay`), raised by a conditional UPDATE that matches no row once the day holds the person's
maximum. On PostgreSQL a concurrent UPDATE of the same row waits for the first one's commit and
re-reads the row (READ COMMITTED), so two bookings can never both take a day's last place; SQLite
runs one writer at a time. The slot search's "full" check gives the clear message first; this
is what holds under concurrency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of, table_of
from app.errors import Conflict
from app.i18n import N_
from booking.models import BookingProfile, StaffDay
from booking.search import DEFAULT_TIMEZONE, local_day

DAY_FULL = N_("The mediator has no more appointments free on this day.")
NO_MAXIMUM = 2**31 - 1


@dataclass(frozen=True)
class Profile:
    timezone: str = DEFAULT_TIMEZONE
    buffer_minutes: int = 0


async def profiles(db: AsyncSession, staff_ids: Sequence[int]) -> dict[int, Profile]:
    """Each person's time zone and buffer, in one statement (the defaults when no profile)."""
    rows = await db.execute(
        select(
            BookingProfile.staff_id, BookingProfile.timezone, BookingProfile.buffer_minutes
        ).where(BookingProfile.staff_id.in_(staff_ids))
    )
    found = {staff_id: Profile(zone, buffer) for staff_id, zone, buffer in rows}
    return {staff_id: found.get(staff_id, Profile()) for staff_id in staff_ids}


def days_of(people: Mapping[int, Profile], starts_at: datetime) -> dict[date, list[int]]:
    """Whose local day the start falls on, grouped by day (one group unless zones differ)."""
    days: dict[date, list[int]] = defaultdict(list)
    for staff_id, profile in people.items():
        days[local_day(starts_at, profile.timezone)].append(staff_id)
    return dict(days)


async def take(db: AsyncSession, days: Mapping[date, Sequence[int]]) -> None:
    """One more appointment on each person's day, or Conflict(DAY_FULL) for the whole booking
    (the caller's transaction then rolls back every counter it raised). One upsert per day: a
    day's first appointment inserts its row at 1 (a maximum of 0 never gets here: the slot
    check finds such a day full), a later one raises the row only while under the maximum,
    and only the rows written come back."""
    upsert = _upsert(dialect_of(db))
    for day, staff_ids in days.items():
        rows = [{"staff_id": staff_id, "day": day, "booked": 1} for staff_id in staff_ids]
        # Several rows (a panel) go out as one multi-row INSERT (SQLAlchemy's insertmanyvalues).
        written = await db.scalars(upsert, rows)
        if len(written.all()) != len(staff_ids):
            raise Conflict(DAY_FULL)


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """The counter's upsert, built once per dialect (a request binds its rows only)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # The target row by name: SQLAlchemy does not correlate a subquery inside ON CONFLICT, and
    # would otherwise add staff_days to the subquery's FROM.
    target: Any = literal_column(f"{StaffDay.__tablename__}.staff_id")
    most = (
        select(BookingProfile.daily_max).where(BookingProfile.staff_id == target).scalar_subquery()
    )
    days = table_of(StaffDay)  # Core, not the ORM's bulk insert: less CPU
    return (
        insert(days)
        .on_conflict_do_update(
            index_elements=[days.c.staff_id, days.c.day],
            set_={"booked": days.c.booked + 1},
            where=days.c.booked < func.coalesce(most, NO_MAXIMUM),
        )
        .returning(days.c.staff_id)
    )


async def give_back(db: AsyncSession, days: Mapping[date, Sequence[int]]) -> None:
    for day, staff_ids in days.items():
        await db.execute(
            update(StaffDay)
            .where(StaffDay.staff_id.in_(staff_ids), StaffDay.day == day, StaffDay.booked > 0)
            .values(booked=StaffDay.booked - 1)
            .execution_options(synchronize_session=False)
        )
