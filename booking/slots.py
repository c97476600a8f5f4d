"""Time as fixed 30-minute cells, numbered by integers since an epoch, and a person's time in a
search range as one bit mask over those cells (bit i = cell `base + i`). Free slots of L cells
are then a handful of shifts and ANDs whatever the length of the range.

Cell boundaries fall on :00 and :30 in UTC, which are also :00 and :30 in Asia/Shanghai (a
whole-hour offset)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.db import utcnow
from app.i18n import SHANGHAI

CELL = timedelta(minutes=30)
CELL_MINUTES = 30
DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MAX_SEARCH_DAYS = 31
LENGTHS = tuple(range(CELL_MINUTES, MAX_MINUTES + 1, CELL_MINUTES))
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime


def is_aligned(moment: datetime) -> bool:
    moment = moment.astimezone(UTC)  # an offset like +05:45 would shift the minutes
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % CELL_MINUTES == 0


def valid_length(minutes: int) -> bool:
    return minutes in LENGTHS


def epoch_minutes(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(minutes=1)


def cell_floor(moment: datetime) -> int:
    return epoch_minutes(moment) // CELL_MINUTES


def cell_ceil(moment: datetime) -> int:
    return -(-(moment - EPOCH) // CELL)


def moment_of(cell: int) -> datetime:
    return EPOCH + CELL * cell


def ceil_cell(moment: datetime) -> datetime:
    return moment_of(cell_ceil(moment))


def cell_count(minutes: int) -> int:
    """Whole cells covering `minutes` (a buffer of 10 minutes takes one cell)."""
    return -(-minutes // CELL_MINUTES)


def cells(starts_at: datetime, minutes: int) -> list[datetime]:
    """The cells an appointment of `minutes` starting at `starts_at` occupies."""
    return [starts_at + CELL * i for i in range(minutes // CELL_MINUTES)]


# --- masks -----------------------------------------------------------------------------------


def span_mask(first: int, last: int, base: int, size: int) -> int:
    """Bits for cells [first, last) relative to `base`, clipped to [0, size)."""
    first, last = max(first - base, 0), min(last - base, size)
    return ((1 << (last - first)) - 1) << first if last > first else 0


def runs(mask: int, length: int) -> int:
    """Bit i set where `length` consecutive bits of `mask` start at i."""
    found, span = mask, 1
    while span < length:  # doubling: log2(length) steps
        step = min(span, length - span)
        found &= found >> step
        span += step
    return found


def bit_positions(mask: int, limit: int | None = None) -> Iterator[int]:
    """Set bits of `mask`, lowest first."""
    taken = 0
    while mask and (limit is None or taken < limit):
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
        taken += 1


def free_mask(open_: int, claimed: int, *, cells_: int, buffer: int, size: int) -> int:
    """Starts where `cells_` cells are open and unclaimed and the `buffer` cells after them are
    unclaimed too (a booking claims its buffer, so two sessions never touch)."""
    everything = (1 << size) - 1
    starts = runs(open_ & ~claimed & everything, cells_)
    if buffer:
        starts &= runs(~claimed & everything, cells_ + buffer)
    return starts


# --- the pure function the tests drive with tables -----------------------------------------


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
    length = minutes // CELL_MINUTES
    base, last = cell_ceil(start), cell_ceil(end)
    size = last - base + length
    open_ = 0
    for window in windows:
        open_ |= span_mask(cell_ceil(window.starts_at), cell_floor(window.ends_at), base, size)
    open_ &= ~span_mask(base, cell_floor(now) + 1, base, size)  # the past and the current cell
    taken = 0
    for cell in claimed:
        taken |= span_mask(cell_floor(cell), cell_floor(cell) + 1, base, size)
    starts = free_mask(open_, taken, cells_=length, buffer=0, size=size)
    starts &= (1 << (last - base)) - 1
    return [moment_of(base + i) for i in bit_positions(starts)]


def covered(windows: Iterable[Window], starts_at: datetime, minutes: int) -> bool:
    first = cell_floor(starts_at)
    length = minutes // CELL_MINUTES
    open_ = 0
    for window in windows:
        open_ |= span_mask(cell_ceil(window.starts_at), cell_floor(window.ends_at), first, length)
    return open_ == (1 << length) - 1


# --- local days ------------------------------------------------------------------------------


def local_moment(day: date, at: time) -> datetime:
    """A wall-clock time in Asia/Shanghai as an aware UTC-comparable datetime."""
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def local_days(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of `first`, end of `last`) in Asia/Shanghai."""
    return local_moment(first, time()), local_moment(last + timedelta(days=1), time())


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SHANGHAI).date()
