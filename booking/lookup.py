"""Progress lookup (进度查询): by case number or receipt number, plus a phone of one of the case's
parties and an SMS code sent to it. Whether no case has that number or the phone does not match,
the asker learns the same thing (nothing), so the page cannot be used to find out who is in
which dispute."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.i18n import N_
from app.lifecycle import CaseStatus
from app.models import Case, CaseEvent, Party
from app.services import timeline

S = CaseStatus
NEXT_STEPS: dict[str, str] = {
    S.APPLIED: N_(
        "The centre is checking your application and will tell you by SMS whether it is accepted."
    ),
    S.REFUSED: N_(
        "The application was not accepted; the SMS you received says why and where else to turn."
    ),
    S.REFERRED: N_(
        "The case was passed to another body that can handle it; they will contact you."
    ),
    S.WITHDRAWN: N_("The application was withdrawn. You may apply again at any time."),
    S.REGISTERED: N_(
        "The case is registered and will be given to a mediation organisation or mediator."
    ),
    S.DISPATCHED: N_(
        "A mediation organisation has been asked to take the case and will confirm shortly."
    ),
    S.ACCEPTED: N_("A mediator has the case and will contact you to arrange the mediation."),
    S.SCHEDULED: N_("A mediation session is booked; the SMS with your link tells you when."),
    S.AGREEMENT: N_("An agreement is being prepared or signed; your mediator will guide you."),
    S.SIGNED: N_("The agreement is in effect. You may ask a court to confirm it within 30 days."),
    S.FILED: N_(
        "The agreement was filed with the court for judicial confirmation; the court decides."
    ),
    S.CONFIRMED: N_("The court confirmed the agreement; it can now be enforced."),
    S.DISMISSED: N_(
        "The court did not confirm the agreement; you may mediate again or go to court."
    ),
    S.CONCLUDED: N_(
        "The mediation has ended; the centre will close the case and follow up with you."
    ),
    S.CLOSED: N_("The case is closed. The centre may call you to ask how things went."),
}
NO_MATCH = N_("The details do not match a case, or the code is wrong or has expired.")
CODE_MAYBE_SENT = N_(
    "If the number and the phone match a case, we have sent a 6-digit code to that phone."
)


def normalize_reference(raw: str) -> str:
    """A receipt number in capitals, or a case number with full-width brackets as printed."""
    value = "".join(raw.split())
    if value[:1] in ("r", "R") and value[1:].isalnum():
        return value.upper()
    return value.replace("(", "（").replace(")", "）")


def lookup_subject(reference: str, phone: str) -> str:
    # Hashed: the codes table would otherwise keep every number and phone someone tried.
    return "lookup:" + hashlib.sha256(f"{reference}|{phone}".encode()).hexdigest()[:40]


async def find_case(db: AsyncSession, reference: str, phone: str) -> Case | None:
    """The case with this number or receipt that has a party with this phone, in one query."""
    if not reference:
        return None
    has_phone = exists().where(Party.case_id == Case.id, Party.phone == phone)
    return await db.scalar(
        select(Case).where(or_(Case.number == reference, Case.receipt == reference), has_phone)
    )


@dataclass(frozen=True)
class Progress:
    case: Case
    events: list[CaseEvent]
    next_step: str


async def progress(db: AsyncSession, case: Case) -> Progress:
    events = await timeline(db, case.id, public_only=True)
    return Progress(case, events, NEXT_STEPS.get(case.status, ""))
