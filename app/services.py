"""Case spine use cases: case numbers, timeline. Intake (booking/intake.py), registration (受理) and
the listings live in booking (booking/triage.py, booking/desk.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit as _audit  # noqa: F401  (chains every case event as it is flushed)
from app.db import insert_if_missing
from app.labels import LABELS
from app.models import (
    CaseEvent,
    CaseSequence,
    Party,
)

DISPUTE_TYPES = LABELS["dispute"]


async def next_case_seq(db: AsyncSession, org_id: int, year: int) -> int:
    """The organisation's next number this year. The increment holds the counter row's lock until
    the registration commits (or rolls back, giving the number back), so concurrent
    registrations queue here for a moment and get unique, gap-free numbers."""
    await insert_if_missing(db, CaseSequence, org_id=org_id, year=year, last_seq=0)
    seq = await db.scalar(
        update(CaseSequence)
        .where(CaseSequence.org_id == org_id, CaseSequence.year == year)
        .values(last_seq=CaseSequence.last_seq + 1)
        .returning(CaseSequence.last_seq)
    )
    assert seq is not None
    return int(seq)


def case_number(year: int, short_name: str, seq: int) -> str:
    return f"（{year}）{short_name}矛调字第{seq:04d}号"


async def record_event(
    db: AsyncSession,
    case_id: int,
    kind: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    public: bool = True,
) -> None:
    db.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, data=data or {}, public=public))


async def timeline(db: AsyncSession, case_id: int, *, public_only: bool) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id)
    if public_only:
        query = query.where(CaseEvent.public.is_(True))
    return list(await db.scalars(query.order_by(CaseEvent.at, CaseEvent.id)))


async def parties_of(db: AsyncSession, case_id: int) -> list[Party]:
    return list(await db.scalars(select(Party).where(Party.case_id == case_id).order_by(Party.id)))
