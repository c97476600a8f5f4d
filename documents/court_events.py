"""The events a court's system is pushed (app/webhooks.py delivers them):

- `packet.ready`: a filing's packet, or a new version after a supplement, is assembled and
  signed; sent once per packet, keyed by the packet's id, so the court learns of a filing when
  there is something to fetch;
- `filing.withdrawn`: the parties withdrew the application.

The body names the filing, the packet and the case, not the parties: the system fetches the
rest with its token, so a misdirected webhook leaks no one's personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import webhooks
from app.db import utcnow
from app.models import Case
from documents.models import CourtFiling, CourtPacket


def _body(event: str, key: str, filing: CourtFiling, case: Case) -> dict[str, Any]:
    return {
        "event": event,
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


async def packet_ready(
    db: AsyncSession, packet: CourtPacket, filing: CourtFiling, case: Case
) -> None:
    """Queues `packet.ready` in the transaction that recorded the packet (once per packet)."""
    key = f"packet-{packet.id}"
    body = _body("packet.ready", key, filing, case)
    body["packet"] = {
        "id": packet.id,
        "version": packet.version,
        "sha256": packet.sha256,
        "size": packet.size,
        "url": f"/api/v1/court/filings/{filing.id}/packet",
    }
    await webhooks.enqueue_event(db, filing.court_org_id, case.org_id, key, body)


async def withdrawn(db: AsyncSession, filing: CourtFiling, case: Case) -> None:
    """Queues `filing.withdrawn` in the withdrawal's transaction."""
    key = f"filing-{filing.id}-withdrawn"
    body = _body("filing.withdrawn", key, filing, case)
    await webhooks.enqueue_event(db, filing.court_org_id, case.org_id, key, body)
