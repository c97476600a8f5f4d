"""Demo availability: every mediator and expert, the next 14 days, 09:00–12:00 and 14:00–17:30."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from aiohttp import web
from sqlalchemy import select

from app.db import transaction
from app.models import StaffUser
from booking.models import Availability
from booking.services import BOOKABLE_ROLES
from booking.slots import local_moment, local_today

DEMO_DAYS = 14
DEMO_WINDOWS = ((time(9, 0), time(12, 0)), (time(14, 0), time(17, 30)))  # Asia/Shanghai


async def seed_availability(app: web.Application, *, now: datetime | None = None) -> int:
    """Adds the windows for everyone who has none from today on; returns how many were added."""
    today = local_today(now)
    added = 0
    async with transaction(app) as db:
        people = await db.scalars(
            select(StaffUser).where(StaffUser.role.in_(BOOKABLE_ROLES), StaffUser.active.is_(True))
        )
        for person in list(people):
            existing = await db.scalar(
                select(Availability.id).where(
                    Availability.staff_id == person.id,
                    Availability.ends_at > local_moment(today, time()),
                )
            )
            if existing is not None:
                continue
            for offset in range(DEMO_DAYS):
                day = today + timedelta(days=offset)
                for opens, closes in DEMO_WINDOWS:
                    db.add(
                        Availability(
                            staff_id=person.id,
                            starts_at=local_moment(day, opens),
                            ends_at=local_moment(day, closes),
                        )
                    )
                    added += 1
    return added
