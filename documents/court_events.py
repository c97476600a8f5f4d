"""The filing events a court's system is pushed (app/webhooks.py delivers them): filed,
resubmitted after a supplement, withdrawn. The body names the filing and the case, not the
parties: the system fetches the rest with its token, so a misdirected webhook leaks no one's
personal data."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app import webhooks
from app.db import utcnow
from app.models import Case
from documents.models import CourtFiling

EVENTS = ("filed", "resubmitted", "withdrawn")


def idempotency_key(filing: CourtFiling, event: str) -> str:
    """`filing-<id>-<event>`; a resubmission can happen more than once, so it adds its time."""
    key = f"filing-{filing.id}-{event}"
    if event == "resubmitted" and filing.resubmitted_at is not None:
        key += f"-{int(filing.resubmitted_at.timestamp() * 1000)}"
    return key


async def push(db: AsyncSession, filing: CourtFiling, case: Case, event: str) -> None:
    """Queues the event for the filing's court, in the caller's transaction."""
    assert event in EVENTS
    key = idempotency_key(filing, event)
    body = {
        "event": f"filing.{event}",
        "idempotency_key": key,
        "occurred_at": utcnow().isoformat(),
        "court_id": filing.court_org_id,
        "filing": {
            "id": filing.id,
            "status": filing.status,
            "filed_at": filing.filed_at.isoformat(),
            "url": f"/api/v1/court/filings/{filing.id}",
        },
        "case": {"id": case.id, "number": case.number},
    }
    await webhooks.enqueue_event(db, filing.court_org_id, case.org_id, key, body)
