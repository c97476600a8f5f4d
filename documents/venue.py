"""The competent court for judicial confirmation (民事诉讼法 art. 205): the basic court where the
mediation organisation is, by default; the court of a party's domicile or of where the subject
matter is, as alternatives the mediator chooses with a reason that the filing records."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, ValidationFailed
from app.i18n import N_
from app.models import Organization
from app.printable import single_spaced, unprintable

BASES = ("mediation_org", "domicile", "subject")
MAX_ANCESTORS = 8  # deeper than any tier chain; a cycle in bad data cannot loop forever
MAX_REASON = 500
NO_BASIC_COURT = N_(
    "No basic court is configured for this organisation. Choose the court of a party's "
    "domicile or of the subject matter, and give the reason."
)
NOT_THE_BASIC_COURT = N_(
    "That court is not the organisation's basic court. To apply to another court, choose "
    "a party's domicile or the subject matter's location and give the reason."
)
BAD_BASIS = N_("Please choose one of the listed values.")
NEED_REASON = N_("Please say in 2 to 500 characters why this court is competent.")
NEED_COURT = N_("Please choose a court.")


@dataclass(frozen=True)
class Venue:
    court: Organization
    basis: str
    reason: str | None


async def basic_court(db: AsyncSession, org_id: int) -> Organization | None:
    """The court configured for the organisation, else for its nearest ancestor that has one:
    one statement per tier walked (three tiers at most in practice)."""
    seen: set[int] = set()
    current: int | None = org_id
    while current is not None and current not in seen and len(seen) < MAX_ANCESTORS:
        seen.add(current)
        org = await db.get(Organization, current)
        if org is None:
            return None
        if org.court_org_id is not None:
            court = await db.get(Organization, org.court_org_id)
            return court if court is not None and court.kind == "court" else None
        current = org.parent_id
    return None


async def courts(db: AsyncSession) -> list[Organization]:
    return list(
        await db.scalars(
            select(Organization).where(Organization.kind == "court").order_by(Organization.id)
        )
    )


def _reason(value: object) -> str:
    text = single_spaced(value) if isinstance(value, str) else ""
    if not 2 <= len(text) <= MAX_REASON or unprintable(text) is not None:
        raise ValidationFailed({"court_reason": NEED_REASON})
    return text


async def check_venue(
    db: AsyncSession, org_id: int, basis: object, court_org_id: int | None, reason: object
) -> Venue:
    """The court the application names, by rule: the organisation's basic court unless the
    mediator chose another ground, which needs its reason."""
    if basis not in BASES:
        raise ValidationFailed({"court_basis": BAD_BASIS})
    if basis == "mediation_org":
        default = await basic_court(db, org_id)
        if default is None:
            raise Conflict(NO_BASIC_COURT)
        if court_org_id is not None and court_org_id != default.id:
            raise Conflict(NOT_THE_BASIC_COURT)
        return Venue(default, "mediation_org", None)
    text = _reason(reason)
    court = await db.get(Organization, court_org_id) if court_org_id is not None else None
    if court is None or court.kind != "court":
        raise ValidationFailed({"court_org_id": NEED_COURT})
    return Venue(court, str(basis), text)
