"""Booking test data: availability, a registered case, API tokens, row counts, wall-clock times."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from app.auth import Principal, create_api_token
from app.db import sessionmaker_key, transaction
from app.models import Case, StaffUser
from app.settings import settings_key
from booking.slots import local_moment, local_today
from booking.triage import Registration, do_register


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A wall-clock time tomorrow in Asia/Shanghai (inside the demo availability)."""
    return local_moment(local_today() + timedelta(days=1), time(hour, minute))


def within_a_day() -> datetime:
    """A time inside the demo availability that starts less than 24 hours from now, whatever
    the hour: today at 16:00 in Shanghai while that is over an hour away, else tomorrow at 9:00."""
    today = local_moment(local_today(), time(16))
    return today if today - datetime.now(today.tzinfo) > timedelta(hours=1) else tomorrow_at(9)


async def register_case(app: web.Application, case_id: int, coordinator_id: int) -> None:
    async with transaction(app) as db:
        user = await db.get(StaffUser, coordinator_id)
        case = await db.get(Case, case_id)
        assert user is not None and case is not None
        principal = Principal(
            kind="staff", staff_id=user.id, role=user.role, org_id=user.org_id, name=user.username
        )
        await do_register(
            db, app[settings_key], principal, case, Registration("blue", "general", "town")
        )


async def bearer(app: web.Application, user_id: int) -> dict[str, str]:
    async with transaction(app) as db:
        token = await create_api_token(db, user_id, "test")
    return {"Authorization": f"Bearer {token}"}


async def count(app: web.Application, model: Any, *where: Any) -> int:
    async with app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)
