"""The judicial-confirmation fast lane: filing a packet, the court's inbox, the ruling.

民事诉讼法 art. 205–206; 人民调解法 art. 33: apply within 30 days of the agreement taking effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, UserError
from app.i18n import N_, translate
from app.models import Case, Organization, Party, StaffUser
from app.notify import notify_parties, send_sms
from app.services import record_event
from documents.models import Agreement, CourtFiling
from documents.services import require_mediator

FILING_WINDOW = timedelta(days=30)
DECISIONS = ("confirmed", "dismissed")
NOTE_MAX_LENGTH = 2000
# Personal-status matters are not accepted for judicial confirmation (SPC interpretation).
NOT_ACCEPTED_WARNING_TYPES = ("family",)


@dataclass(frozen=True)
class InboxItem:
    filing: CourtFiling
    case: Case
    parties: list[Party]


def filing_warning(case: Case) -> str | None:
    if case.dispute_type in NOT_ACCEPTED_WARNING_TYPES:
        return N_(
            "Courts do not accept agreements on marriage validity or dissolution, parentage or "
            "adoption for confirmation. Check the terms before filing."
        )
    return None


async def courts(db: AsyncSession) -> list[Organization]:
    return list(await db.scalars(select(Organization).where(Organization.kind == "court")))


async def do_file(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    agreement: Agreement | None,
    court_org_id: int,
) -> CourtFiling:
    require_mediator(principal, case)
    if agreement is None or agreement.status != "effective" or agreement.effective_at is None:
        raise Conflict(N_("Only an agreement that every signatory has signed can be filed."))
    if utcnow() - agreement.effective_at > FILING_WINDOW:
        raise Conflict(
            N_(
                "More than 30 days have passed since the agreement took effect; "
                "the court can no longer confirm it."
            )
        )
    court = await db.get(Organization, court_org_id)
    if court is None or court.kind != "court":
        raise UserError(N_("Please choose a court."))
    filing = CourtFiling(
        case_id=case.id, agreement_id=agreement.id, court_org_id=court.id, filed_by=principal.key
    )
    try:
        async with db.begin_nested():
            db.add(filing)
            await db.flush()
    except IntegrityError:
        raise Conflict(N_("This agreement has already been filed.")) from None
    case.status = "filed"
    await record_event(db, case.id, "filed", principal.key, {"court": court.name})
    clerks = await db.scalars(
        select(StaffUser).where(
            StaffUser.org_id == court.id,
            StaffUser.role == "court_clerk",
            StaffUser.active.is_(True),
        )
    )
    for clerk in clerks:
        if clerk.phone:
            body = translate(
                "New judicial confirmation application: case {number}.", "zh_CN", number=case.number
            )
            await send_sms(db, clerk.phone, body, case.id)
    return filing


def require_clerk(principal: Principal) -> None:
    principal.require_staff("court_clerk")


async def inbox(db: AsyncSession, principal: Principal) -> list[InboxItem]:
    """The court's filings, undecided first: three statements whatever the page size."""
    require_clerk(principal)
    rows = (
        await db.execute(
            select(CourtFiling, Case)
            .join(Case, Case.id == CourtFiling.case_id)
            .where(CourtFiling.court_org_id == principal.org_id)
            .order_by(CourtFiling.status != "filed", CourtFiling.filed_at.desc())
            .limit(200)
        )
    ).all()
    parties: dict[int, list[Party]] = {}
    case_ids = {case.id for _filing, case in rows}
    for party in await db.scalars(
        select(Party).where(Party.case_id.in_(case_ids)).order_by(Party.id)
    ):
        parties.setdefault(party.case_id, []).append(party)
    return [InboxItem(filing, case, parties.get(case.id, [])) for filing, case in rows]


async def load_filing(db: AsyncSession, principal: Principal, filing_id: int) -> CourtFiling:
    require_clerk(principal)
    filing = await db.get(CourtFiling, filing_id)
    if filing is None or filing.court_org_id != principal.org_id:
        raise NotFound(N_("This filing does not exist or you may not see it."))
    return filing


async def do_decide(
    db: AsyncSession, principal: Principal, filing: CourtFiling, decision: str, note: str
) -> CourtFiling:
    require_clerk(principal)
    if decision not in DECISIONS:
        raise UserError(N_("Please choose confirm or dismiss."))
    note = note.strip()
    if decision == "dismissed" and not note:
        raise UserError(N_("Please give the reason for dismissing."))
    if len(note) > NOTE_MAX_LENGTH:
        raise UserError(N_("The note is too long (up to 2000 characters)."))
    if principal.org_id != filing.court_org_id:
        raise PermissionDenied(N_("You are not allowed to do this."))
    # One ruling: of concurrent decisions only the first finds the filing undecided.
    now = utcnow()
    changed = await db.execute(
        update(CourtFiling)
        .where(CourtFiling.id == filing.id, CourtFiling.status == "filed")
        .values(
            status=decision, decided_by=principal.key, decided_at=now, decision_note=note or None
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This application has already been decided."))
    await db.refresh(filing)
    case = await db.get(Case, filing.case_id)
    assert case is not None
    case.status = decision
    await record_event(db, case.id, decision, principal.key)
    message = (
        N_("The court confirmed the mediation agreement of case {number}.")
        if decision == "confirmed"
        else N_("The court dismissed the confirmation application of case {number}.")
    )
    await notify_parties(db, case, message)
    return filing


async def filing_of_case(db: AsyncSession, case_id: int) -> CourtFiling | None:
    return await db.scalar(
        select(CourtFiling)
        .where(CourtFiling.case_id == case_id)
        .order_by(CourtFiling.id.desc())
        .limit(1)
    )
