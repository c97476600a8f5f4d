"""Turning untrusted input (HTML forms, query strings, JSON bodies) into typed values, or into a
ValidationFailed that names each bad field. Wall-clock input is read in Asia/Shanghai."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from app.errors import ValidationFailed
from app.forms import MAX_ID, parse_id
from app.i18n import N_, SHANGHAI
from booking.slots import (
    DEFAULT_MINUTES,
    MAX_SEARCH_DAYS,
    local_moment,
    local_today,
    valid_length,
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Bookable dates. Outside them the arithmetic on days and time zones overflows (year 1 or 9999),
# and no mediation centre plans that far anyway.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
_TIME = re.compile(r"^\d{2}:\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
PARTY_ROLES = ("applicant", "respondent")  # the older API body's two party objects

BAD_DATE = N_("Please enter a valid date (YYYY-MM-DD).")
DATE_OUT_OF_RANGE = N_("Please give a date from 2000-01-01 to 2099-12-31.")
BAD_TIME = N_("Please enter a valid time (HH:MM).")
BAD_MINUTES = N_("Choose a length from 30 minutes to 4 hours, in steps of 30 minutes.")
BAD_MEDIATOR = N_("Please choose a mediator.")
BAD_INSTANT = N_("Give the start as an ISO 8601 date and time, e.g. 2026-11-20T09:00:00+08:00.")
WHOLE_NUMBER = N_("Please give a whole number.")


@dataclass(frozen=True)
class BookingRequest:
    mediator_id: int
    starts_at: datetime
    minutes: int


def _iso_date(raw: str | None) -> date | None:
    if raw is None or not _DATE.match(raw.strip()):
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def in_date_range(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def parse_date(raw: str | None) -> date | None:
    """A YYYY-MM-DD date from EARLIEST_DATE to LATEST_DATE, else None (see `date_error`)."""
    day = _iso_date(raw)
    return day if day is not None and in_date_range(day) else None


def date_error(raw: str | None) -> str:
    """Why `parse_date` refused `raw`: not a date at all, or a date out of range."""
    return BAD_DATE if _iso_date(raw) is None else DATE_OUT_OF_RANGE


def parse_time(raw: str | None) -> time | None:
    if raw is None or not _TIME.match(raw.strip()):
        return None
    try:
        return time.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse_minutes(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return DEFAULT_MINUTES
    return int(raw) if raw.strip().isascii() and raw.strip().isdigit() and len(raw) < 5 else None


def parse_instant(raw: str) -> datetime | None:
    """ISO 8601 with an offset; without one it is read as Asia/Shanghai wall-clock time."""
    if not _INSTANT.match(raw.strip()):
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def booking_form(data: Mapping[str, str]) -> BookingRequest:
    """The HTML booking form: mediator_id, date and time (Asia/Shanghai), minutes."""
    errors: dict[str, str] = {}
    mediator_id = parse_id(data.get("mediator_id"))
    if mediator_id is None:
        errors["mediator_id"] = BAD_MEDIATOR
    day, at = parse_date(data.get("date")), parse_time(data.get("time"))
    if day is None:
        errors["date"] = date_error(data.get("date"))
    if at is None:
        errors["time"] = BAD_TIME
    minutes = parse_minutes(data.get("minutes"))
    if minutes is None:
        errors["minutes"] = BAD_MINUTES
    if errors or mediator_id is None or day is None or at is None or minutes is None:
        raise ValidationFailed(errors)
    return BookingRequest(mediator_id, local_moment(day, at), minutes)


def search_days(
    first_raw: str | None, last_raw: str | None, *, default_days: int = 1
) -> tuple[date, date]:
    """An inclusive range of local days for a slot search (from/to query parameters); a
    parameter that is absent takes its default, one that is empty is an error."""
    errors: dict[str, str] = {}
    first = parse_date(first_raw) if first_raw is not None else local_today()
    if first is None:
        errors["from"] = date_error(first_raw)
    last = parse_date(last_raw) if last_raw is not None else None
    if last_raw is not None and last is None:
        errors["to"] = date_error(last_raw)
    if first is not None and last is None and "to" not in errors:
        last = first + timedelta(days=default_days - 1)
    if first is not None and last is not None:
        if last < first:
            errors["to"] = N_("The end date must not be before the start date.")
        elif (last - first).days >= MAX_SEARCH_DAYS:
            errors["to"] = N_("Search at most 31 days at a time.")
    if errors or first is None or last is None:
        raise ValidationFailed(errors)
    return first, last


# --- JSON bodies --------------------------------------------------------------------------


def json_int(body: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        errors[name] = WHOLE_NUMBER
        return None
    return value


def booking_json(body: Mapping[str, Any]) -> tuple[int, BookingRequest]:
    """{case_id, mediator_id, starts_at, minutes} → (case_id, request)."""
    errors: dict[str, str] = {}
    case_id = json_int(body, "case_id", errors)
    mediator_id = json_int(body, "mediator_id", errors)
    raw_start = body.get("starts_at")
    starts_at = parse_instant(raw_start) if isinstance(raw_start, str) else None
    if starts_at is None:
        errors["starts_at"] = BAD_INSTANT
    elif not in_date_range(starts_at.date()):
        errors["starts_at"], starts_at = DATE_OUT_OF_RANGE, None
    minutes: int | None = DEFAULT_MINUTES
    if "minutes" in body:
        minutes = json_int(body, "minutes", errors)
        if minutes is not None and not valid_length(minutes):
            errors["minutes"], minutes = BAD_MINUTES, None
    if errors or case_id is None or mediator_id is None or starts_at is None or minutes is None:
        raise ValidationFailed(errors)
    return case_id, BookingRequest(mediator_id, starts_at, minutes)
