"""Raising alarms on staff desks. Features decide when (an overdue sweep, a missed
acknowledgement, non-performance); this records each alarm once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_if_missing, utcnow
from app.models import Alarm

LEVELS = ("info", "warning", "critical")


async def raise_alarm(
    db: AsyncSession,
    key: str,
    kind: str,
    *,
    org_id: int,
    case_id: int | None = None,
    staff_id: int | None = None,
    level: str = "warning",
    data: dict[str, Any] | None = None,
) -> None:
    """Records the alarm in the caller's transaction unless one with `key` exists."""
    assert level in LEVELS
    await insert_if_missing(
        db,
        Alarm,
        key=key,
        kind=kind,
        level=level,
        case_id=case_id,
        org_id=org_id,
        staff_id=staff_id,
        data=data or {},
        created_at=utcnow(),
    )
