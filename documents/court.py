"""The judicial-confirmation fast lane: filing a packet, the court's inbox, the ruling.

民事诉讼法 art. 205–206; 人民调解法 art. 33: apply within 30 days of the agreement taking effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, transaction, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, UserError, ValidationFailed
from app.forms import parse_id
from app.i18n import N_, format_date, translate
from app.lifecycle import CaseStatus, advance
from app.models import COURT_ROLES, Case, Organization, Party, StaffUser
from app.notify import SMS_LOCALE, notify_parties, send_sms
from app.settings import settings_key
from documents.application import (
    ALREADY_FILED,
    NOT_EFFECTIVE,
    NOT_SIGNED,
    check_window,
    current_application,
)
from documents.court_clocks import WEEKENDS_ONLY, RestDays, filing_closes, last_day
from documents.models import Agreement, CourtFiling
from documents.packet import request_packet
from documents.service import parties_served
from documents.services import require_mediator

INBOX_SIZE = 50  # filings per page
MAX_PAGE = 10_000
# Personal-status matters are not accepted for judicial confirmation (SPC interpretation).
NOT_ACCEPTED_WARNING_TYPES = ("family",)


@dataclass(frozen=True)
class InboxItem:
    filing: CourtFiling
    case: Case
    parties: list[Party]
    served: dict[int, datetime] = field(default_factory=dict)  # party id → ruling opened at


# What the agreement settles, as the mediator declares it when filing: courts do not accept
# personal status or ownership confirmation (SPC interpretation of the Civil Procedure Law).
SUBJECTS = ("ordinary", "personal_status", "ownership")
NOT_ACCEPTED = {
    "personal_status": N_(
        "A court does not confirm an agreement on the validity or dissolution of a marriage, "
        "parentage or adoption. The parties may go to court or to the marriage registry."
    ),
    "ownership": N_(
        "A court does not confirm an agreement that settles who owns property, land or "
        "intellectual property. The parties may apply for registration or go to court."
    ),
}


def check_subject(value: str | None) -> str:
    if value not in SUBJECTS:
        raise ValidationFailed({"subject": N_("Please say what the agreement settles.")})
    if value in NOT_ACCEPTED:
        raise Conflict(NOT_ACCEPTED[value])
    return value


def filing_warning(case: Case) -> str | None:
    if case.dispute_type in NOT_ACCEPTED_WARNING_TYPES:
        return N_(
            "Courts do not accept agreements on marriage validity or dissolution, parentage or "
            "adoption for confirmation. Check the terms before filing."
        )
    return None


async def court_name(db: AsyncSession, filing: CourtFiling) -> str:
    court = await db.get(Organization, filing.court_org_id)
    return court.name if court else ""


OTHER_COURT = N_(
    "The joint application names {court}. To file with another court, prepare a new "
    "application for the parties to sign."
)


async def do_file(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    agreement: Agreement | None,
    court_org_id: int | None = None,
    *,
    rest: RestDays = WEEKENDS_ONLY,
    now: datetime | None = None,
) -> CourtFiling:
    """Files the parties' sealed joint application with the court it names."""
    require_mediator(principal, case)
    # On the case row, as signing is: a filing racing the last signature sees it or not.
    await lock_row(db, Case, case.id)
    if agreement is None:
        raise Conflict(NOT_EFFECTIVE)
    check_window(agreement, rest, now)
    application = await current_application(db, case.id)
    if (
        application is None
        or application.agreement_id != agreement.id
        or application.status != "sealed"
    ):
        raise Conflict(NOT_SIGNED)
    court = await db.get(Organization, application.court_org_id)
    if court is None or court.kind != "court":
        raise UserError(N_("Please choose a court."))
    if court_org_id is not None and court_org_id != court.id:
        raise Conflict(OTHER_COURT, court=court.name)
    filing = CourtFiling(
        case_id=case.id,
        agreement_id=agreement.id,
        court_org_id=court.id,
        filed_by=principal.key,
        application_id=application.id,
        court_basis=application.court_basis,
        court_reason=application.court_reason,
    )
    try:
        async with db.begin_nested():
            db.add(filing)
            await db.flush()
    except IntegrityError:
        raise Conflict(ALREADY_FILED) from None
    await request_packet(db, filing)
    data = {"court": court.name, "basis": application.court_basis}
    await advance(db, case, CaseStatus.FILED, principal.key, data=data)
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


def require_court_staff(principal: Principal) -> None:
    """The court's clerk or judge, or the court's own system (its system token)."""
    if principal.kind == "court_system" and principal.org_id is not None:
        return
    principal.require_staff(*COURT_ROLES)
    if principal.role not in COURT_ROLES:  # an administrator is not the court
        raise PermissionDenied(N_("You are not allowed to do this."))


# The queue: what waits for this role first, each by its statutory clock; then the rest.
_FIRST = {
    "court_clerk": ("filed", "accepted", "supplement"),
    "judge": ("accepted", "filed", "supplement"),
    "court_system": ("filed", "accepted", "supplement"),
}


async def inbox(db: AsyncSession, principal: Principal, page: int = 1) -> list[InboxItem]:
    return (await inbox_page(db, principal, page))[0]


async def inbox_page(
    db: AsyncSession, principal: Principal, page: int = 1
) -> tuple[list[InboxItem], bool]:
    """One page of the court's filings, what waits for the viewer first, each by its statutory
    clock, with the service of each ruling, and whether more pages follow: two statements
    whatever the page size."""
    require_court_staff(principal)
    first = _FIRST[str(principal.role)]
    waiting = CourtFiling.status.in_(first)
    # The court's whole queue is ordered on the filings' narrow columns alone; only the page's
    # rows are then joined to their cases.
    queue = (
        select(
            CourtFiling.id,
            sql_case(
                {status: n for n, status in enumerate(first)}, value=CourtFiling.status, else_=9
            ).label("rank"),
            sql_case((waiting, CourtFiling.ruling_due_at)).label("due"),
            sql_case((waiting, CourtFiling.filed_at)).label("filed"),
        )
        .where(CourtFiling.court_org_id == principal.org_id)
        .order_by("rank", "due", "filed", CourtFiling.id.desc())
        .limit(INBOX_SIZE + 1)
        .offset((page - 1) * INBOX_SIZE)
        .subquery()
    )
    rows = (
        await db.execute(
            select(CourtFiling, Case)
            .join(queue, queue.c.id == CourtFiling.id)
            .join(Case, Case.id == CourtFiling.case_id)
            .order_by(queue.c.rank, queue.c.due, queue.c.filed, CourtFiling.id.desc())
        )
    ).all()
    more, rows = len(rows) > INBOX_SIZE, rows[:INBOX_SIZE]
    parties, served = await parties_served(db, (filing for filing, _case in rows))
    items = [
        InboxItem(filing, case, parties.get(case.id, []), served.get(filing.id, {}))
        for filing, case in rows
    ]
    return items, more


def check_page(value: str | None) -> int:
    page = parse_id(value) if value else 1
    if page is None or page > MAX_PAGE:
        raise ValidationFailed({"page": N_("Please choose one of the listed values.")})
    return page


async def load_filing(db: AsyncSession, principal: Principal, filing_id: int) -> CourtFiling:
    require_court_staff(principal)
    filing = await db.get(CourtFiling, filing_id)
    if filing is None or filing.court_org_id != principal.org_id:
        raise NotFound(N_("This filing does not exist or you may not see it."))
    return filing


async def filing_item(db: AsyncSession, principal: Principal, filing_id: int) -> InboxItem:
    """One filing of the viewer's court as the inbox shows it: three statements."""
    filing = await load_filing(db, principal, filing_id)
    case = await db.get(Case, filing.case_id)
    assert case is not None
    parties, served = await parties_served(db, [filing])
    return InboxItem(filing, case, parties.get(case.id, []), served.get(filing.id, {}))


async def filing_of_case(db: AsyncSession, case_id: int) -> CourtFiling | None:
    return await db.scalar(
        select(CourtFiling)
        .where(CourtFiling.case_id == case_id)
        .order_by(CourtFiling.id.desc())
        .limit(1)
    )


FILING_REMINDER_SMS = N_(
    "Case {number}: the parties may jointly apply to the court to confirm the mediation "
    "agreement until {day}, 24:00. Ask your mediator how."
)


async def remind_to_file(app: web.Application, payload: dict[str, Any]) -> None:
    """The filing reminder job: texts the parties and the mediator while the 30 days still run,
    unless the agreement was filed (or replaced) meanwhile."""
    rest = RestDays.of(app[settings_key])
    async with transaction(app) as db:
        agreement = await db.get(Agreement, payload["agreement_id"])
        if agreement is None or agreement.status != "effective" or not agreement.effective_at:
            return
        closes = filing_closes(agreement.effective_at, rest)
        filed = await filing_of_case(db, agreement.case_id)
        case = await db.get(Case, agreement.case_id)
        if filed is not None or case is None or utcnow() >= closes:
            return
        day = format_date(last_day(closes), SMS_LOCALE)
        await notify_parties(db, case, FILING_REMINDER_SMS, day=day)
        mediator = await db.get(StaffUser, case.mediator_id) if case.mediator_id else None
        if mediator is not None and mediator.phone:
            body = translate(FILING_REMINDER_SMS, SMS_LOCALE, number=case.number, day=day)
            await send_sms(db, mediator.phone, body, case.id)
