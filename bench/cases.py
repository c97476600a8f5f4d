"""Benchmark data: a migrated database with the demo staff and COUNT cases, each with its
parties and assigned to the demo mediator (what registration and booking would produce)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import make_engine, transaction
from app.demo import seed_demo
from app.factory import create_app
from app.migrate import upgrade
from app.models import Case, Organization, Party, StaffUser
from app.settings import Settings, settings_key
from booking.intake import ApplicationInput, PartyInput, do_submit_application

PARTY_NAMES = ("王秀兰", "李建国", "张桂英", "赵志强", "孙丽娟", "周明", "吴芳", "郑伟")
T = TypeVar("T")
PerCase = Callable[[AsyncSession, Case, list[Party], StaffUser], Awaitable[T]]


async def demo_cases(settings: Settings, count: int, parties: int, per_case: PerCase[T]) -> list[T]:
    """Creates the cases and returns what `per_case` makes of each (links, rooms, sessions)."""
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(replace(settings, log_level="ERROR"))  # quiet: a dev seal key is made
    runner = web.AppRunner(app)
    await runner.setup()  # the app's database context, without serving
    try:
        await seed_demo(app)
        made = []
        async with transaction(app) as db:
            town = await db.scalar(select(Organization).where(Organization.tier == "town"))
            mediator = await db.scalar(select(StaffUser).where(StaffUser.username == "mediator"))
            assert town is not None and mediator is not None
            for i in range(count):
                people = tuple(
                    PartyInput(
                        "applicant" if p == 0 else "respondent",
                        PARTY_NAMES[p % len(PARTY_NAMES)],
                        f"139{i:04d}{p:04d}",
                        "320584198503150023",
                        "江苏省苏州市吴江区松陵街道联杨村12号",
                    )
                    for p in range(parties)
                )
                case = await do_submit_application(
                    db,
                    app[settings_key],
                    ApplicationInput(town.id, "neighbour", f"基准测试案件 {i}", people),
                )
                case.mediator_id = mediator.id  # what booking does when a mediator is assigned
                rows = list(
                    await db.scalars(
                        select(Party).where(Party.case_id == case.id).order_by(Party.id)
                    )
                )
                made.append(await per_case(db, case, rows, mediator))
        return made
    finally:
        await runner.cleanup()
