"""The parties' basic information an agreement states (人民调解法 art. 29): what the case
already holds (name, kind, masked ID, address, credit code, legal representative, agents),
completed by the mediator (sex, ethnicity, date of birth, occupation or employer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Party
from booking.models import PartyAgent
from documents.drafting import PartyDetails


async def agents_of(db: AsyncSession, party_ids: Sequence[int]) -> dict[int, PartyAgent]:
    """Each party's first agent on record (one query for all parties)."""
    rows = await db.scalars(
        select(PartyAgent).where(PartyAgent.party_id.in_(party_ids)).order_by(PartyAgent.id)
    )
    agents: dict[int, PartyAgent] = {}
    for row in rows:
        agents.setdefault(row.party_id, row)
    return agents


def party_details(
    party: Party, details: PartyDetails | None, agent: PartyAgent | None
) -> dict[str, Any]:
    """The party's part of the hashed content. Without details from the form, the case's own
    address and agent stand."""
    if details is None:
        details = PartyDetails(
            address=party.address or "",
            agent_name=agent.name if agent else "",
            agent_authority=agent.authority if agent else "",
        )
    return {
        "kind": party.kind,
        "address": details.address,
        "credit_code": party.credit_code or "",
        "representative": party.representative or "",
        "sex": details.sex,
        "ethnicity": details.ethnicity,
        "birth_date": details.birth_date.isoformat() if details.birth_date else None,
        "occupation": details.occupation,
        "agent": {"name": details.agent_name, "authority": details.agent_authority}
        if details.agent_name
        else None,
    }
