"""Failed webhook deliveries for admins: those of events from the admin's organisation subtree
(`jobs.org_id` is the organisation whose case the event is about), re-queued by a conditional
update (of two clicks, one re-queues; the other finds it pending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.errors import Conflict, NotFound
from app.i18n import N_
from app.models import Job, Organization
from app.policy import org_subtree, subtree_query
from app.webhooks import KIND

LIMIT = 200
NO_LETTER = N_("This failed delivery does not exist or is outside your organisation.")
ALREADY = N_("This delivery was already re-queued.")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    court: str
    event: str
    key: str
    attempts: int
    last_error: str | None
    failed_at: datetime


async def dead_letters(db: AsyncSession, root: int) -> list[DeadLetter]:
    """The newest failed deliveries of the subtree's events, in two statements."""
    jobs = list(
        await db.scalars(
            select(Job)
            .where(Job.kind == KIND, Job.status == "dead", Job.org_id.in_(subtree_query(root)))
            .order_by(Job.run_after.desc(), Job.id.desc())
            .limit(LIMIT)
        )
    )
    court_ids = {job.payload.get("org_id") for job in jobs}
    rows = await db.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(court_ids))
    )
    names: dict[int, str] = {org_id: name for org_id, name in rows.all()}
    return [
        DeadLetter(
            job.id,
            names.get(job.payload.get("org_id", 0), ""),
            str(job.payload.get("body", {}).get("event", "")),
            str(job.payload.get("key", "")),
            job.attempts,
            job.last_error,
            job.run_after,
        )
        for job in jobs
    ]


async def requeue(db: AsyncSession, root: int, job_id: int) -> None:
    """Gives the delivery a fresh set of attempts, due now; once."""
    # The subtree is read first: Python's sqlite3 before 3.12 reports no row count for an
    # UPDATE that starts with WITH (the recursive subtree), and the count is the "once".
    subtree = await org_subtree(db, root)
    changed = await db.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.kind == KIND,
            Job.status == "dead",
            Job.org_id.in_(subtree),
        )
        .values(status="pending", attempts=0, run_after=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        return
    found = await db.scalar(
        select(Job.id).where(Job.id == job_id, Job.kind == KIND, Job.org_id.in_(subtree))
    )
    if found is None:
        raise NotFound(NO_LETTER)
    raise Conflict(ALREADY)
