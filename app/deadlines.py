"""Deadlines an admin edits in the browser. A row in `deadline_settings` overrides the
environment's default of the same name (app/settings.py); without rows the environment rules."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of, utcnow
from app.errors import ValidationFailed
from app.i18n import N_
from app.models import COMPLEXITIES, DeadlineSetting
from app.settings import Settings

ACKNOWLEDGE = "acknowledge"
FOLLOWUP_DAYS = "followup_days"
NAMES = (*COMPLEXITIES, ACKNOWLEDGE, FOLLOWUP_DAYS)
# Bounds an admin may set: hours up to a year, follow-up within a year.
LIMITS = {**{name: (1, 8760) for name in (*COMPLEXITIES, ACKNOWLEDGE)}, FOLLOWUP_DAYS: (1, 365)}
BAD_HOURS = N_("Please give a whole number of hours from 1 to 8760.")
BAD_DAYS = N_("Please give a whole number of days from 1 to 365.")


async def _stored(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(select(DeadlineSetting.name, DeadlineSetting.value))
    return {name: value for name, value in rows.all()}


def defaults(settings: Settings) -> dict[str, int]:
    return {
        **{name: settings.deadline_hours[name] for name in COMPLEXITIES},
        ACKNOWLEDGE: settings.acknowledge_hours,
        FOLLOWUP_DAYS: settings.followup_days,
    }


async def effective(db: AsyncSession, settings: Settings) -> dict[str, int]:
    """Every deadline by name: the admin's value where one is stored, else the environment's."""
    return {**defaults(settings), **await _stored(db)}


async def deadline_hours(db: AsyncSession, settings: Settings) -> Mapping[str, int]:
    """Handling deadline in hours per complexity (simple, general, complex, difficult)."""
    values = await effective(db, settings)
    return {name: values[name] for name in COMPLEXITIES}


async def acknowledge_hours(db: AsyncSession, settings: Settings) -> int:
    return (await effective(db, settings))[ACKNOWLEDGE]


async def followup_days(db: AsyncSession, settings: Settings) -> int:
    return (await effective(db, settings))[FOLLOWUP_DAYS]


def check_deadlines(data: Mapping[str, object]) -> dict[str, int]:
    """The submitted values (form strings or JSON integers), each within its bounds."""
    values, errors = {}, {}
    for name in NAMES:
        raw = data.get(name)
        value = _whole(raw)
        low, high = LIMITS[name]
        if value is None or not low <= value <= high:
            errors[name] = BAD_DAYS if name == FOLLOWUP_DAYS else BAD_HOURS
        else:
            values[name] = value
    if errors:
        raise ValidationFailed(errors)
    return values


def _whole(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip()) if len(raw.strip()) <= 6 else None
    return None


async def do_save(db: AsyncSession, values: Mapping[str, int], actor: str) -> None:
    """Stores every value (an upsert per name, so two admins saving at once both succeed)."""
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    now = utcnow()
    for name, value in values.items():
        statement = insert(DeadlineSetting).values(
            name=name, value=value, updated_at=now, updated_by=actor
        )
        await db.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"value": value, "updated_at": now, "updated_by": actor},
            )
        )
