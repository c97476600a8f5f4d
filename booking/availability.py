"""Editing a person's availability: weekly rules, exceptions (leave, holidays, extra days),
buffer, daily maximum and time zone. A person edits their own; coordinators and admins those of
their organisation's subtree. A save replaces the weekly rules and the exceptions from today on,
all or nothing, under the person's row lock (two saves at once would otherwise interleave their
deletes and inserts on PostgreSQL and leave both sets)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row
from app.errors import NotFound, ValidationFailed
from app.i18n import N_
from app.models import StaffUser
from app.policy import COORDINATING, org_subtree
from booking.forms import in_date_range
from booking.models import AvailabilityException, AvailabilityRule, BookingProfile
from booking.search import DEFAULT_TIMEZONE

BOOKABLE = ("mediator", "expert")
MAX_BUFFER = 120
MAX_DAILY = 20
MAX_EXCEPTIONS = 100
WINDOWS_PER_DAY = 6
NO_SUCH_PERSON = N_("This person does not exist or you may not edit their availability.")
BAD_WINDOWS = N_("Write times like 09:00-12:00, 14:00-17:30, on the half hour, start before end.")
BAD_EXCEPTIONS = N_(
    "One exception a line: a date, then off or extra, then the times for part of a day, e.g. "
    "2026-12-01 off, or 2026-12-05 extra 09:00-12:00."
)
TOO_MANY_EXCEPTIONS = N_("At most 100 exceptions.")
BAD_BUFFER = N_("The buffer must be a whole number of minutes from 0 to 120.")
BAD_DAILY = N_("The daily maximum must be empty or a whole number from 1 to 20.")
BAD_ZONE = N_("Please give a time zone such as Asia/Shanghai or Europe/Berlin.")
_WINDOW = re.compile(r"^([01]\d|2[0-4]):([03]0)\s*[-–~]\s*([01]\d|2[0-4]):([03]0)$")


@dataclass(frozen=True)
class AvailabilityInput:
    rules: list[tuple[int, int, int]]  # weekday, start minute, end minute
    exceptions: list[tuple[date, str, int, int]]  # day, off|extra, start, end
    buffer_minutes: int
    daily_max: int | None
    timezone: str


async def editable(db: AsyncSession, principal: Principal, staff_id: int) -> StaffUser:
    principal.require_staff()
    person = await db.get(StaffUser, staff_id)
    if person is None or person.role not in BOOKABLE:
        raise NotFound(NO_SUCH_PERSON)
    if person.id == principal.staff_id:
        return person
    coordinating = principal.role in COORDINATING and principal.org_id is not None
    if coordinating and person.org_id in await org_subtree(db, principal.org_id or 0):
        return person
    raise NotFound(NO_SUCH_PERSON)


def parse_windows(raw: str) -> list[tuple[int, int]] | None:
    """ "09:00-12:00, 14:00-17:30" → [(540, 720), (840, 1050)]; None if malformed."""
    windows = []
    for part in re.split(r"[,，、;；]", raw):
        part = part.strip()
        if not part:
            continue
        match = _WINDOW.match(part)
        if not match:
            return None
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not start < end <= 1440:
            return None
        windows.append((start, end))
    return windows if len(windows) <= WINDOWS_PER_DAY else None


def _known_zone(name: str) -> bool:
    if len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _exception(line: str) -> tuple[date, str, int, int] | None:
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or parts[1] not in ("off", "extra"):
        return None
    try:
        day = date.fromisoformat(parts[0])
    except ValueError:
        return None
    if not in_date_range(day):
        return None
    windows = parse_windows(parts[2]) if len(parts) == 3 else [(0, 1440)]
    if parts[1] == "extra" and len(parts) < 3:
        return None
    if not windows or len(windows) != 1:
        return None
    return day, parts[1], windows[0][0], windows[0][1]


def check_availability(data: dict[str, str]) -> AvailabilityInput:
    errors: dict[str, str] = {}
    rules: list[tuple[int, int, int]] = []
    for weekday in range(7):
        windows = parse_windows(data.get(f"day{weekday}", ""))
        if windows is None:
            errors[f"day{weekday}"] = BAD_WINDOWS
        else:
            rules.extend((weekday, start, end) for start, end in windows)
    exceptions: list[tuple[date, str, int, int]] = []
    lines = [line.strip() for line in data.get("exceptions", "").splitlines() if line.strip()]
    if len(lines) > MAX_EXCEPTIONS:
        errors["exceptions"] = TOO_MANY_EXCEPTIONS
    for line in lines[:MAX_EXCEPTIONS]:
        found = _exception(line)
        if found is None:
            errors.setdefault("exceptions", BAD_EXCEPTIONS)
        else:
            exceptions.append(found)
    raw_buffer = data.get("buffer_minutes", "").strip() or "0"
    buffer = int(raw_buffer) if raw_buffer.isdigit() and len(raw_buffer) <= 3 else -1
    if not 0 <= buffer <= MAX_BUFFER:
        errors["buffer_minutes"] = BAD_BUFFER
    raw_daily = data.get("daily_max", "").strip()
    daily = int(raw_daily) if raw_daily.isdigit() and len(raw_daily) <= 2 else -1
    if raw_daily and not 1 <= daily <= MAX_DAILY:
        errors["daily_max"] = BAD_DAILY
    zone = data.get("timezone", "").strip() or DEFAULT_TIMEZONE
    if not _known_zone(zone):
        errors["timezone"] = BAD_ZONE
    if errors:
        raise ValidationFailed(errors)
    return AvailabilityInput(rules, exceptions, buffer, daily if raw_daily else None, zone)


async def current(
    db: AsyncSession, staff_id: int, today: date
) -> tuple[list[AvailabilityRule], list[AvailabilityException], BookingProfile | None]:
    rules = await db.scalars(
        select(AvailabilityRule)
        .where(AvailabilityRule.staff_id == staff_id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_minute)
    )
    exceptions = await db.scalars(
        select(AvailabilityException)
        .where(AvailabilityException.staff_id == staff_id, AvailabilityException.day >= today)
        .order_by(AvailabilityException.day, AvailabilityException.start_minute)
    )
    return list(rules), list(exceptions), await db.get(BookingProfile, staff_id)


async def do_save(
    db: AsyncSession, person: StaffUser, change: AvailabilityInput, today: date
) -> None:
    await lock_row(db, StaffUser, person.id)
    await db.execute(delete(AvailabilityRule).where(AvailabilityRule.staff_id == person.id))
    await db.execute(
        delete(AvailabilityException).where(
            AvailabilityException.staff_id == person.id, AvailabilityException.day >= today
        )
    )
    db.add_all(
        AvailabilityRule(staff_id=person.id, weekday=w, start_minute=s, end_minute=e)
        for w, s, e in change.rules
    )
    db.add_all(
        AvailabilityException(staff_id=person.id, day=d, kind=k, start_minute=s, end_minute=e)
        for d, k, s, e in change.exceptions
    )
    profile = await db.get(BookingProfile, person.id)
    if profile is None:
        profile = BookingProfile(staff_id=person.id, specialties=[], languages=[])
        db.add(profile)
    profile.buffer_minutes, profile.daily_max = change.buffer_minutes, change.daily_max
    profile.timezone = change.timezone
