"""Invitations: a fresh capability link per party, sent by SMS; the plaintext token exists only
in the SMS and in the one response that shows it to the coordinator (only its hash is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import issue_party_link, revoke_party_access
from app.db import utcnow
from app.i18n import N_, format_datetime, translate
from app.models import Case, Organization, Party, PartyLink
from app.notify import SMS_LOCALE, send_sms
from app.revocation import Revoked
from app.settings import Settings


@dataclass(frozen=True)
class Invitation:
    party: Party
    url: str

    def qr_svg(self) -> str:
        """The link as an inline SVG QR code (no style attributes: the CSP forbids them)."""
        code = segno.make(self.url, error="m")
        return str(code.svg_inline(scale=4, border=2, light="#fff", title=self.party.name))


@dataclass(frozen=True)
class LinkStatus:
    party: Party
    active: int
    latest_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None


async def _new_link(db: AsyncSession, settings: Settings, party: Party) -> str:
    token = await issue_party_link(db, party.id, settings.party_link_days)
    return f"{settings.base_url}/p/{token}"


async def _org_name(db: AsyncSession, case: Case) -> str:
    org = await db.get(Organization, case.org_id)
    return org.name if org else ""


async def _send_links(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    parties: list[Party],
    message: str,
    **params: object,
) -> list[Invitation]:
    """A new link per party, texted with `message` ({org}, {number}, {link} and `params`)."""
    org = await _org_name(db, case)
    invitations = []
    for party in parties:
        url = await _new_link(db, settings, party)
        body = translate(
            message, SMS_LOCALE, org=org, number=case.number or case.id, link=url, **params
        )
        await send_sms(db, party.phone, body, case.id)
        invitations.append(Invitation(party, url))
    return invitations


async def invite_to_appointment(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    parties: list[Party],
    starts_at: datetime,
    mediator_name: str,
) -> list[Invitation]:
    return await _send_links(
        db,
        settings,
        case,
        parties,
        N_(
            "[{org}] Your mediation (case {number}) is on {time} with mediator {mediator}. "
            "Open {link} on your phone to join; no app is needed."
        ),
        time=format_datetime(starts_at, SMS_LOCALE),
        mediator=mediator_name,
    )


async def reissue(
    db: AsyncSession, settings: Settings, case: Case, parties: list[Party]
) -> tuple[list[Invitation], Revoked]:
    """Revokes the parties' links and every session opened with them, then sends new links
    (announce the Revoked after commit, so open room sockets close too)."""
    revoked = await revoke_party_access(db, [party.id for party in parties])
    sent = await _send_links(
        db,
        settings,
        case,
        parties,
        N_("[{org}] Your new link for case {number}: {link} . Earlier links no longer work."),
    )
    return sent, revoked


async def link_status(db: AsyncSession, parties: list[Party]) -> list[LinkStatus]:
    """Each party's links at a glance, in one statement whatever the number of parties."""
    now = utcnow()
    links: dict[int, list[PartyLink]] = {party.id: [] for party in parties}
    for link in await db.scalars(
        select(PartyLink)
        .where(PartyLink.party_id.in_(links))
        .order_by(PartyLink.created_at.desc(), PartyLink.id.desc())
    ):
        links[link.party_id].append(link)
    found = []
    for party in parties:
        own = links[party.id]
        live = [link for link in own if link.revoked_at is None and link.expires_at > now]
        found.append(
            LinkStatus(
                party=party,
                active=len(live),
                latest_at=own[0].created_at if own else None,
                expires_at=live[0].expires_at if live else None,
                last_used_at=max(
                    (link.last_used_at for link in own if link.last_used_at), default=None
                ),
            )
        )
    return found
