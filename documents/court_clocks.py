"""The statutory clocks of judicial confirmation, counted in Beijing dates as 民事诉讼法 art. 85
counts periods: a period in days starts on the day after the event, ends at 24:00 of its last
day, and a last day that is a statutory rest day (a weekend day not made a working day, or a
public holiday) gives way to the next working day.

- Filing: within 30 days of the agreement taking effect (人民调解法 art. 33, 民诉法 art. 205).
- Ruling: within 15 days of the court accepting, extendable once by 10 with approval (SPC 2011).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.settings import Settings

BEIJING = ZoneInfo("Asia/Shanghai")
FILING_DAYS = 30
RULING_DAYS = 15
EXTENSION_DAYS = 10
FILING_REMINDER = "filing_reminder"  # the job that texts the parties before the 30 days end
FILING_REMINDER_BEFORE = timedelta(days=5)


@dataclass(frozen=True)
class RestDays:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # weekend days made working days (调休)

    @classmethod
    def of(cls, settings: Settings) -> RestDays:
        return cls(frozenset(settings.court_holidays), frozenset(settings.court_workdays))

    def rest(self, day: date) -> bool:
        return day in self.holidays or (day.weekday() >= 5 and day not in self.workdays)


WEEKENDS_ONLY = RestDays()  # no holiday calendar configured


def period_end(event: datetime, days: int, rest: RestDays) -> datetime:
    """The instant (UTC) a period of `days` days that began with `event` is over: midnight
    after its last day, Beijing time."""
    last = event.astimezone(BEIJING).date() + timedelta(days=days)
    while rest.rest(last):
        last += timedelta(days=1)
    return datetime.combine(last + timedelta(days=1), time(), BEIJING).astimezone(UTC)


def filing_closes(effective_at: datetime, rest: RestDays) -> datetime:
    return period_end(effective_at, FILING_DAYS, rest)


def ruling_due(accepted_at: datetime, rest: RestDays, *, extended: bool = False) -> datetime:
    days = RULING_DAYS + (EXTENSION_DAYS if extended else 0)
    return period_end(accepted_at, days, rest)


def last_day(closes: datetime) -> date:
    """The last day of a period that closes at `closes` (for people: 「截止12月23日」)."""
    return (closes.astimezone(BEIJING) - timedelta(microseconds=1)).date()
