"""Electronic service of the court's ruling (电子送达): who may read the sealed ruling, and the
receipt recorded the first time each party opens it.

A receipt is one row per filing and party behind a unique key, inserted with ON CONFLICT DO
NOTHING … RETURNING: of any number of concurrent first downloads exactly one inserts, and only
that one writes the timeline event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import dialect_of, utcnow
from app.errors import Conflict, NotFound
from app.i18n import N_
from app.models import COURT_ROLES, Party
from app.policy import load_case
from app.services import record_event
from documents.models import CourtFiling, ServiceReceipt

NO_RULING = N_("This ruling does not exist or you may not see it.")
NOT_READY = N_("The ruling is still being sealed. Please try again in a minute.")


async def load_ruling(db: AsyncSession, principal: Principal, filing_id: int) -> CourtFiling:
    """The filing whose sealed ruling the principal may read: a party or the staff of its case,
    or the court it was filed with; the same NotFound for anything else."""
    filing = await db.get(CourtFiling, filing_id)
    if filing is None:
        raise NotFound(NO_RULING)
    court_staff = principal.kind == "court_system" or (
        principal.kind == "staff" and principal.role in COURT_ROLES
    )
    if court_staff and filing.court_org_id != principal.org_id:
        raise NotFound(NO_RULING)
    try:
        await load_case(db, principal, filing.case_id)
    except NotFound:
        raise NotFound(NO_RULING) from None
    if filing.ruling_storage_key is None:
        raise Conflict(NOT_READY)
    return filing


async def record_receipt(db: AsyncSession, principal: Principal, filing: CourtFiling) -> bool:
    """A party opened the ruling: True the first time only (the service is then complete)."""
    if principal.kind != "party" or principal.party_id is None:
        return False
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    inserted = await db.scalar(
        insert(ServiceReceipt)
        .values(filing_id=filing.id, party_id=principal.party_id, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["filing_id", "party_id"])
        .returning(ServiceReceipt.id)
    )
    if inserted is None:
        return False
    party = await db.get(Party, principal.party_id)
    data = {"party": party.name if party else "", "court_case_number": filing.court_case_number}
    await record_event(db, filing.case_id, "ruling_served", principal.key, data, public=True)
    return True


async def parties_served(
    db: AsyncSession, filings: Iterable[CourtFiling]
) -> tuple[dict[int, list[Party]], dict[int, dict[int, datetime]]]:
    """The parties of each filing's case, and when each was served the filing's ruling:
    ({case id: parties}, {filing id: {party id: received at}}), in one statement whatever the
    number of filings."""
    filings = list(filings)
    parties: dict[int, list[Party]] = {}
    served: dict[int, dict[int, datetime]] = {}
    if not filings:
        return parties, served
    receipt = and_(
        ServiceReceipt.party_id == Party.id,
        ServiceReceipt.filing_id.in_({filing.id for filing in filings}),
    )
    rows = await db.execute(
        select(Party, ServiceReceipt.filing_id, ServiceReceipt.received_at)
        .outerjoin(ServiceReceipt, receipt)
        .where(Party.case_id.in_({filing.case_id for filing in filings}))
        .order_by(Party.id, ServiceReceipt.id)
    )
    for party, filing_id, received_at in rows:
        listed = parties.setdefault(party.case_id, [])
        if not listed or listed[-1] is not party:
            listed.append(party)
        if filing_id is not None:
            served.setdefault(filing_id, {})[party.id] = received_at
    return parties, served
