"""Red-risk alerts: a red case notifies the coordinators of the tier above (seed 003)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import lock_row, transaction
from app.i18n import translate
from app.jobs import register
from app.models import Case, CaseEvent, StaffUser
from app.notify import send_sms
from app.services import record_event


async def _red_alert(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        # The event and the SMS are written together: a run after a worker died, or one racing
        # a worker whose lease expired, finds the event under the case's lock and stops.
        await lock_row(db, Case, payload["case_id"])
        case = await db.get(Case, payload["case_id"])
        if case is None or await _alerted(db, case.id, payload["org_id"]):
            return
        coordinators = await db.scalars(
            select(StaffUser).where(
                StaffUser.org_id == payload["org_id"],
                StaffUser.role == "coordinator",
                StaffUser.active.is_(True),
            )
        )
        for user in coordinators:
            if user.phone:
                body = translate(
                    "[Red alert] Case {number} was registered; please follow it.",
                    "zh_CN",
                    number=case.number,
                )
                await send_sms(db, user.phone, body, case.id)
        await record_event(
            db, case.id, "red_alert", "system", {"org_id": payload["org_id"]}, public=False
        )


async def _alerted(db: AsyncSession, case_id: int, org_id: int) -> bool:
    events = await db.scalars(
        select(CaseEvent.data).where(CaseEvent.case_id == case_id, CaseEvent.kind == "red_alert")
    )
    return any(data.get("org_id") == org_id for data in events)


def setup(app: web.Application) -> None:
    register(app, "red_alert", _red_alert)
