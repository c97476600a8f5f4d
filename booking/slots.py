"""Time as fixed 30-minute cells: a person's free slots are their availability windows minus the
cells already claimed minus the past. Cell boundaries fall on :00 and :30 in UTC, which are also
:00 and :30 in Asia/Shanghai (a whole-hour offset)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.i18n import SHANGHAI
from booking.models import Availability, SlotClaim

CELL = timedelta(minutes=30)
CELL_MINUTES = 30
DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MAX_SEARCH_DAYS = 31
LENGTHS = tuple(range(CELL_MINUTES, MAX_MINUTES + 1, CELL_MINUTES))


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime


def is_aligned(moment: datetime) -> bool:
    moment = moment.astimezone(UTC)  # an offset like +05:45 would shift the minutes
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % CELL_MINUTES == 0


def valid_length(minutes: int) -> bool:
    return minutes in LENGTHS


def ceil_cell(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    floor = moment.replace(
        minute=moment.minute - moment.minute % CELL_MINUTES, second=0, microsecond=0
    )
    return floor if floor == moment else floor + CELL


def cells(starts_at: datetime, minutes: int) -> list[datetime]:
    """The cells an appointment of `minutes` starting at `starts_at` occupies."""
    return [starts_at + CELL * i for i in range(minutes // CELL_MINUTES)]


def open_cells(windows: Iterable[Window]) -> set[datetime]:
    """Every whole cell inside some availability window (windows may overlap)."""
    found: set[datetime] = set()
    for window in windows:
        cell = ceil_cell(window.starts_at)
        while cell + CELL <= window.ends_at:
            found.add(cell)
            cell += CELL
    return found


def covered(windows: Iterable[Window], starts_at: datetime, minutes: int) -> bool:
    return set(cells(starts_at, minutes)) <= open_cells(windows)


def free_starts(
    windows: Iterable[Window],
    claimed: set[datetime],
    *,
    now: datetime,
    minutes: int,
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """Starts in [start, end) where `minutes` of consecutive free, future cells begin."""
    free = {cell for cell in open_cells(windows) if cell > now} - claimed
    return sorted(
        cell
        for cell in free
        if start <= cell < end and all(c in free for c in cells(cell, minutes))
    )


def local_moment(day: date, at: time) -> datetime:
    """A wall-clock time in Asia/Shanghai as an aware UTC-comparable datetime."""
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def local_days(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of `first`, end of `last`) in Asia/Shanghai."""
    return local_moment(first, time()), local_moment(last + timedelta(days=1), time())


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SHANGHAI).date()


async def windows_of(
    db: AsyncSession, staff_id: int, start: datetime, end: datetime
) -> list[Window]:
    rows = await db.scalars(
        select(Availability).where(
            Availability.staff_id == staff_id,
            Availability.starts_at < end,
            Availability.ends_at > start,
        )
    )
    return [Window(row.starts_at, row.ends_at) for row in rows]


async def claimed_cells(
    db: AsyncSession, staff_id: int, start: datetime, end: datetime
) -> set[datetime]:
    rows = await db.scalars(
        select(SlotClaim.cell_start).where(
            SlotClaim.staff_id == staff_id,
            SlotClaim.cell_start >= start,
            SlotClaim.cell_start < end,
        )
    )
    return set(rows)


async def free_slots(
    db: AsyncSession,
    staff_id: int,
    *,
    start: datetime,
    end: datetime,
    minutes: int = DEFAULT_MINUTES,
    now: datetime | None = None,
) -> list[datetime]:
    """Where an appointment of `minutes` with this person could start, between start and end."""
    horizon = end + timedelta(minutes=minutes)  # a slot near `end` runs past it
    windows = await windows_of(db, staff_id, start, horizon)
    claimed = await claimed_cells(db, staff_id, start, horizon)
    return free_starts(windows, claimed, now=now or utcnow(), minutes=minutes, start=start, end=end)
