"""One set-based slot search: "the earliest free slots of length L for any of these people (or for
all of them together: a panel) between two instants".

Five statements whatever the number of people (weekly rules, exceptions, one-off windows,
profiles, claims; on PostgreSQL two: the profiles, and the rest as one UNION ALL), then integer
arithmetic on one bit mask per person (booking/slots.py). No per-person query: finding the
earliest of 200 mediators used to take 200 calls."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    String,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime, dialect_of, utcnow
from booking.models import (
    Availability,
    AvailabilityException,
    AvailabilityRule,
    BookingProfile,
    SlotClaim,
)
from booking.slots import (
    CELL,
    CELL_MINUTES,
    DEFAULT_MINUTES,
    EPOCH,
    bit_positions,
    cell_ceil,
    cell_count,
    cell_floor,
    epoch_minutes,
    free_mask,
    moment_of,
    span_mask,
)

DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Found:
    starts_at: datetime
    ends_at: datetime
    staff_ids: tuple[int, ...]  # one person, or the whole panel


@dataclass
class Person:
    """One person's time over the search range, as masks relative to the range's first cell."""

    timezone: str = DEFAULT_TIMEZONE
    buffer: int = 0  # cells
    daily_max: int | None = None
    open: int = 0
    claimed: int = 0
    starts_by_day: dict[date, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class Range:
    base: int  # first cell of the search
    size: int  # cells read: the searched starts plus the longest run after the last one
    starts: int  # cells that may begin a slot (the searched range)

    def span(self, first: int, last: int) -> int:
        return span_mask(first, last, self.base, self.size)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _local_midnight(zone: str, day: date) -> int:
    """Minutes since the epoch of `day`'s local midnight in `zone`."""
    return epoch_minutes(datetime.combine(day, datetime.min.time(), tzinfo=_zone(zone)))


def _day_cells(zone: str, day: date, start_minute: int, end_minute: int) -> tuple[int, int]:
    """Whole cells inside [start_minute, end_minute) of local `day` (a zone with a :45 offset
    loses the partial cell at each end)."""
    midnight = _local_midnight(zone, day)
    first = -(-(midnight + start_minute) // CELL_MINUTES)
    return first, (midnight + end_minute) // CELL_MINUTES


def _days(start: datetime, end: datetime) -> list[date]:
    """Every local day that may touch [start, end) in any zone (±1 day of UTC)."""
    first = (start - timedelta(days=1)).date()
    return [first + timedelta(days=i) for i in range((end - start).days + 3)]


@dataclass(frozen=True)
class ProfileRow:
    """A person's booking profile as read with them elsewhere (the booking's members), so the
    search need not read it again."""

    timezone: str
    buffer_minutes: int
    daily_max: int | None


PROFILE_COLUMNS = (
    BookingProfile.staff_id,
    BookingProfile.timezone,
    BookingProfile.buffer_minutes,
    BookingProfile.daily_max,
)


def profile_of(staff_id: int | None, *values: Any) -> ProfileRow | None:
    """PROFILE_COLUMNS of an outer join: None when the person has no profile row."""
    return None if staff_id is None else ProfileRow(*values)


async def _load(
    db: AsyncSession,
    ids: Collection[int],
    start: datetime,
    horizon: datetime,
    rng: Range,
    ignore: int | None = None,
    profiles: Mapping[int, ProfileRow | None] | None = None,
) -> dict[int, Person]:
    people = {staff_id: Person() for staff_id in ids}
    days = _days(start, horizon)
    if profiles is None:
        await _profiles(db, ids, people)
    else:
        for staff_id, known in profiles.items():
            if known is not None and staff_id in people:
                _set_profile(people[staff_id], known)
    rows = await _read(db, ids, days, start, horizon, rng, ignore)
    _weekly(rows.rules, people, days, rng)
    offs = _exceptions(rows.exceptions, days, people, rng)
    _windows(rows.windows, people, rng)
    for staff_id, mask in offs.items():
        people[staff_id].open &= ~mask
    _claims(rows.claims, people, rng)
    return people


async def _profiles(db: AsyncSession, ids: Collection[int], people: dict[int, Person]) -> None:
    conn = await db.connection()
    reads = _reads(dialect_of(db))
    for row in await _all(conn, reads.profiles, {"ids": reads.ids(ids)}):
        _set_profile(people[row.staff_id], ProfileRow(*row[1:]))


def _set_profile(person: Person, profile: ProfileRow) -> None:
    person.timezone, person.daily_max = profile.timezone, profile.daily_max
    person.buffer = cell_count(profile.buffer_minutes)


@dataclass(frozen=True)
class _Rows:
    rules: Sequence[Any]  # staff_id, weekday, start_minute, end_minute
    exceptions: Sequence[Any]  # staff_id, day, kind, start_minute, end_minute
    windows: Sequence[Any]  # staff_id, starts_at, ends_at
    claims: Sequence[Any]  # staff_id, appointment_id, duty_session_id, first cell, last cell


async def _read(
    db: AsyncSession,
    ids: Collection[int],
    days: list[date],
    start: datetime,
    horizon: datetime,
    rng: Range,
    ignore: int | None,
) -> _Rows:
    """The people's rules, exceptions, one-off windows and claims: one statement
    (`_together`)."""
    reads = _reads(dialect_of(db))
    low, high = moment_of(rng.base - 16), moment_of(rng.base + rng.size)
    values = {
        "ids": reads.ids(ids),
        "first_day": days[0],
        "last_day": days[-1],
        "start": start,
        "horizon": horizon,
        "low": low,
        "high": high,
        "ignore": ignore or -1,
    }
    conn = await db.connection()
    parts: tuple[list[Any], ...] = ([], [], [], [])
    rows = await _all(conn, _together(reads.dialect), values)
    for part, staff_id, n1, n2, n3, n4, day, kind, t1, t2 in rows:
        if part == 0:
            parts[0].append((staff_id, n1, n2, n3))
        elif part == 1:
            parts[1].append((staff_id, day, kind, n2, n3))
        elif part == 2:
            parts[2].append((staff_id, t1, t2))
        else:
            parts[3].append((staff_id, n1, n4, n2, n3))
    return _Rows(*parts)


def _weekly(found: Sequence[Any], people: dict[int, Person], days: list[date], rng: Range) -> None:
    rules: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for staff_id, weekday, start_minute, end_minute in found:
        rules[staff_id].append((weekday, start_minute, end_minute))
    for staff_id, own in rules.items():
        _open_weekly(people[staff_id], own, days, rng)


def _windows(found: Sequence[Any], people: dict[int, Person], rng: Range) -> None:
    """One-off windows (the `availability` table, kept from before weekly rules existed)."""
    for staff_id, starts_at, ends_at in found:
        people[staff_id].open |= rng.span(cell_ceil(starts_at), cell_floor(ends_at))


def _open_weekly(
    person: Person, rules: list[tuple[int, int, int]], days: list[date], rng: Range
) -> None:
    person.open |= _weekly_mask(person.timezone, tuple(sorted(rules)), days[0], len(days), rng)


@lru_cache(maxsize=1024)
def _weekly_mask(
    zone: str, rules: tuple[tuple[int, int, int], ...], first: date, count: int, rng: Range
) -> int:
    """The cells of weekly `rules` over `count` local days from `first`. People with the same
    rules share one computation; in a zone without clock changes over the range (Asia/Shanghai
    has none) one week is computed and shifted, since every week has the same 336 cells."""
    days = [first + timedelta(days=i) for i in range(count)]
    week = 7 * 24 * 60 // CELL_MINUTES
    origin = _local_midnight(zone, first) // CELL_MINUTES
    steady = _local_midnight(zone, first) + (count - 1) * 1440 == _local_midnight(zone, days[-1])
    if not steady or count <= 7:
        mask = _days_mask(zone, rules, days, origin)
    else:
        mask = shifted = _days_mask(zone, rules, days[:7], origin)
        for _ in range(count // 7):
            shifted <<= week
            mask |= shifted
        mask &= (1 << (count * 1440 // CELL_MINUTES + 1)) - 1
    offset = rng.base - origin
    mask = mask >> offset if offset >= 0 else mask << -offset
    return mask & ((1 << rng.size) - 1)


def _days_mask(
    zone: str, rules: tuple[tuple[int, int, int], ...], days: list[date], origin: int
) -> int:
    """Bits relative to the cell `origin` (at or before the first day's midnight)."""
    by_weekday: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for weekday, first, last in rules:
        by_weekday[weekday].append((first, last))
    mask = 0
    for day in days:
        for first, last in by_weekday.get(day.weekday(), ()):
            cells = _day_cells(zone, day, first, last)
            mask |= _span_from(cells[0] - origin, cells[1] - origin)
    return mask


def _span_from(first: int, last: int) -> int:
    """Bits [first, last) relative to the range, where `first` may be negative."""
    if last <= 0 or last <= first:
        return 0
    first = max(first, 0)
    return ((1 << (last - first)) - 1) << first


def _exceptions(
    found: Sequence[Any], days: list[date], people: dict[int, Person], rng: Range
) -> dict[int, int]:
    """Adds the extra windows; returns the cells taken off per person (leave, holidays), which
    apply after every window is open."""
    offs: dict[int, int] = defaultdict(int)
    for staff_id, day, kind, start_minute, end_minute in found:
        person = people[staff_id]
        mask = rng.span(*_day_cells(person.timezone, day, start_minute, end_minute))
        if kind == "extra":
            person.open |= mask
        else:
            offs[staff_id] |= mask
    return offs


def _claims(found: Sequence[Any], people: dict[int, Person], rng: Range) -> None:
    """Claimed cells, and (for the daily maximum) how many appointments start each local day.
    The appointment being moved was left out by the read (its own cells do not stand in its
    way)."""
    first_of: dict[tuple[int, int], int] = {}
    count_days = any(person.daily_max is not None for person in people.values())
    claimed: dict[int, int] = defaultdict(int)
    base = rng.base
    # A claim's cells are consecutive (the session and its buffer, or a duty session): one row
    # per appointment or duty session. Only appointments count towards the daily maximum.
    for staff_id, appointment_id, _, first, last in found:
        claimed[staff_id] |= _span_from(first - base, last + 1 - base)
        if count_days and appointment_id is not None:
            first_of[(staff_id, appointment_id)] = first
    for staff_id, mask in claimed.items():
        people[staff_id].claimed = mask & ((1 << rng.size) - 1)
    for (staff_id, _), cell in first_of.items():
        person = people[staff_id]
        if person.daily_max is not None:
            person.starts_by_day[_day_of_cell(cell, person.timezone)] += 1


@dataclass(frozen=True)
class _Reads:
    """The five reads of `_load`, built once per dialect: a request only binds its values
    (building a statement and its cache key cost more CPU than running it)."""

    dialect: str
    profiles: Any
    rules: Any
    exceptions: Any
    windows: Any
    claims: Any

    def ids(self, ids: Collection[int]) -> Any:
        """The value of the `ids` parameter (see `_among`)."""
        return list(ids) if self.dialect == "postgresql" else json.dumps(list(ids))


def _among(dialect: str, column: Any) -> Any:
    """`column IN :ids` with the ids as ONE parameter (a PostgreSQL array, a JSON text read by
    SQLite's json_each): a list of a thousand ids is then not compiled into a thousand
    placeholders on every request."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    listed = func.json_each(bindparam("ids", type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


@lru_cache(maxsize=4)
def _reads(dialect: str) -> _Reads:
    cell = cell_number(dialect, SlotClaim.cell_start)
    return _Reads(
        dialect,
        profiles=select(*PROFILE_COLUMNS).where(_among(dialect, BookingProfile.staff_id)),
        rules=select(
            AvailabilityRule.staff_id,
            AvailabilityRule.weekday,
            AvailabilityRule.start_minute,
            AvailabilityRule.end_minute,
        ).where(_among(dialect, AvailabilityRule.staff_id)),
        exceptions=select(
            AvailabilityException.staff_id,
            AvailabilityException.day,
            AvailabilityException.kind,
            AvailabilityException.start_minute,
            AvailabilityException.end_minute,
        ).where(
            _among(dialect, AvailabilityException.staff_id),
            AvailabilityException.day >= bindparam("first_day"),
            AvailabilityException.day <= bindparam("last_day"),
        ),
        windows=select(Availability.staff_id, Availability.starts_at, Availability.ends_at).where(
            _among(dialect, Availability.staff_id),
            Availability.starts_at < bindparam("horizon"),
            Availability.ends_at > bindparam("start"),
        ),
        claims=select(
            SlotClaim.staff_id,
            SlotClaim.appointment_id,
            SlotClaim.duty_session_id,
            func.min(cell),
            func.max(cell),
        )
        .where(
            _among(dialect, SlotClaim.staff_id),
            SlotClaim.cell_start >= bindparam("low"),
            SlotClaim.cell_start < bindparam("high"),
            # NULL for a duty session's cells, which never stand aside
            func.coalesce(SlotClaim.appointment_id, 0) != bindparam("ignore"),
        )
        .group_by(SlotClaim.staff_id, SlotClaim.appointment_id, SlotClaim.duty_session_id),
    )


@lru_cache(maxsize=4)
def _together(dialect: str) -> Any:
    """`_reads`' rules, exceptions, windows and claims as one statement (one round trip, or on
    SQLite one crossing to the driver's thread, not four): UNION ALL of one row shape (part,
    staff_id, four integers, a day, a kind, two instants), each part filling its own columns
    and NULL in the others."""
    reads = _reads(dialect)
    empty_int, empty_day = cast(null(), Integer), cast(null(), Date)
    empty_text, empty_time = cast(null(), String), cast(null(), UTCDateTime)
    rule, exception, window = AvailabilityRule, AvailabilityException, Availability
    claims = reads.claims.selected_columns
    return union_all(
        reads.rules.with_only_columns(
            literal_column("0").label("part"),
            rule.staff_id,
            rule.weekday,
            rule.start_minute,
            rule.end_minute,
            empty_int,
            empty_day,
            empty_text,
            empty_time,
            empty_time,
        ),
        reads.exceptions.with_only_columns(
            literal_column("1"),
            exception.staff_id,
            empty_int,
            exception.start_minute,
            exception.end_minute,
            empty_int,
            exception.day,
            exception.kind,
            empty_time,
            empty_time,
        ),
        reads.windows.with_only_columns(
            literal_column("2"),
            window.staff_id,
            empty_int,
            empty_int,
            empty_int,
            empty_int,
            empty_day,
            empty_text,
            window.starts_at,
            window.ends_at,
        ),
        reads.claims.with_only_columns(
            literal_column("3"),
            claims[0],
            claims[1],
            claims[3],
            claims[4],
            claims[2],
            empty_day,
            empty_text,
            empty_time,
            empty_time,
        ),
    )


async def _all(conn: Any, statement: Any, values: dict[str, Any]) -> Sequence[Any]:
    """Core rows fetched at once: thousands of rows, no ORM and no driver round trip per row."""
    return (await conn.execute(statement, values)).all()


def cell_number(dialect: str, column: Any) -> Any:
    """The cell number (30-minute steps since 2000-01-01 UTC) of a UTC timestamp column, in SQL:
    integers cross the driver much faster than datetimes."""
    epoch_cell = int(EPOCH.timestamp()) // (CELL_MINUTES * 60)
    if dialect == "postgresql":
        epoch = func.extract("epoch", column)
        return cast(func.floor(epoch / (CELL_MINUTES * 60)), Integer) - epoch_cell
    unix = cast(func.strftime("%s", column), Integer)
    return unix // (CELL_MINUTES * 60) - epoch_cell


@lru_cache(maxsize=16384)
def _day_of_cell(cell: int, zone: str) -> date:
    """The local day a cell starts in: a month has 1,440 cells, which many people's
    appointments share, so a cache spares a datetime conversion per claim."""
    return local_day(moment_of(cell), zone)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(_zone(zone)).date()


def _full_days(person: Person, length: int, rng: Range) -> int:
    """Starts on local days where the person already has their daily maximum."""
    if person.daily_max is None:
        return 0
    blocked = 0
    for day, count in person.starts_by_day.items():
        if count >= person.daily_max:
            blocked |= rng.span(*_day_cells(person.timezone, day, 0, 1440))
    return blocked


def starts_of(person: Person, length: int, rng: Range) -> int:
    starts = free_mask(
        person.open, person.claimed, cells_=length, buffer=person.buffer, size=rng.size
    )
    return starts & rng.starts & ~_full_days(person, length, rng)


def _range(start: datetime, end: datetime, now: datetime, length: int) -> tuple[Range, datetime]:
    base = cell_ceil(start)
    last = cell_ceil(end)
    size = max(last - base, 0) + length + 16  # room for a run and a buffer after the last start
    future = max(cell_floor(now) + 1, base)  # never the past, nor the cell under way
    starts = span_mask(future, last, base, size)
    return Range(base, size, starts), moment_of(base + size)


async def search(
    db: AsyncSession,
    staff_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    minutes: int = DEFAULT_MINUTES,
    together: bool = False,
    limit: int | None = 20,
    now: datetime | None = None,
) -> list[Found]:
    """Earliest free slots: for any one of `staff_ids` (each slot names its person), or — with
    `together` — when all of them are free at once (a panel)."""
    ids = sorted(set(staff_ids))
    length = minutes // CELL_MINUTES
    if not ids or length < 1:
        return []
    rng, horizon = _range(start, end, now or utcnow(), length)
    people = await _load(db, ids, start, horizon, rng)
    span = timedelta(minutes=length * CELL_MINUTES)
    if together:
        common = rng.starts
        for person in people.values():
            common &= starts_of(person, length, rng)
        return [
            Found(moment_of(rng.base + i), moment_of(rng.base + i) + span, tuple(ids))
            for i in bit_positions(common, limit)
        ]
    starts = {staff_id: starts_of(person, length, rng) for staff_id, person in people.items()}
    out: list[Found] = []
    for i, staff_id in _earliest(starts, limit):
        at = EPOCH + CELL * (rng.base + i)
        out.append(Found(at, at + span, (staff_id,)))
    return out


def _earliest(starts: dict[int, int], limit: int | None) -> Iterator[tuple[int, int]]:
    """(cell, person) pairs in order of cell then person id, up to `limit`. Walks the union
    of everyone's starts and tests each person's mask against one bit: a merge of one
    generator per person cost more than the search itself at 200 people."""
    union = 0
    for mask in starts.values():
        union |= mask
    ordered = sorted(starts.items())
    taken = 0
    for i in bit_positions(union):
        bit = 1 << i
        for staff_id, mask in ordered:
            if mask & bit:
                yield i, staff_id
                taken += 1
                if limit is not None and taken >= limit:
                    return


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
    found = await search(db, [staff_id], start=start, end=end, minutes=minutes, limit=None, now=now)
    return [slot.starts_at for slot in found]


async def examine(
    db: AsyncSession,
    staff_ids: Iterable[int],
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime | None = None,
    ignore: int | None = None,
    profiles: Mapping[int, ProfileRow | None] | None = None,
) -> tuple[str | None, dict[int, Person]]:
    """Why these people cannot all be booked for this slot: "past", "unavailable" (outside
    their availability), "full" (daily maximum reached) or "taken" (claimed, or too close to
    another session); None when they can; and the people as read (time zones, buffers). The
    claims' unique key is what holds under concurrency; this check gives the clear message
    first. `profiles`: the people's profiles when the caller has read them (one read less)."""
    length = minutes // CELL_MINUTES
    rng, horizon = _range(starts_at, starts_at + CELL, now or utcnow(), length)
    if not rng.starts & 1:
        return "past", {}
    people = await _load(db, sorted(set(staff_ids)), starts_at, horizon, rng, ignore, profiles)
    need = rng.span(rng.base, rng.base + length)
    reasons = set()
    for person in people.values():
        if person.open & need != need:
            reasons.add("unavailable")
        elif _full_days(person, length, rng) & 1:
            reasons.add("full")
        elif not starts_of(person, length, rng) & 1:
            reasons.add("taken")
    return next((r for r in ("unavailable", "full", "taken") if r in reasons), None), people


async def why_not(
    db: AsyncSession,
    staff_ids: Iterable[int],
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime | None = None,
    ignore: int | None = None,
) -> str | None:
    """`examine`'s reason alone."""
    reason, _people = await examine(db, staff_ids, starts_at, minutes, now=now, ignore=ignore)
    return reason


async def earliest_each(
    db: AsyncSession,
    staff_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    minutes: int = DEFAULT_MINUTES,
    now: datetime | None = None,
) -> dict[int, datetime]:
    """Each person's earliest free start between start and end (absent: none), for a roster
    page or an assignment: the same statements as `search`, whatever the number of people."""
    ids = sorted(set(staff_ids))
    length = minutes // CELL_MINUTES
    if not ids or length < 1:
        return {}
    rng, horizon = _range(start, end, now or utcnow(), length)
    people = await _load(db, ids, start, horizon, rng)
    earliest: dict[int, datetime] = {}
    for staff_id, person in people.items():
        starts = starts_of(person, length, rng)
        if starts:
            earliest[staff_id] = moment_of(rng.base + (starts & -starts).bit_length() - 1)
    return earliest
