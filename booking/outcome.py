"""Ending a case: the mediator records its outcome (→ concluded), then closes it (结单 → closed).

Booking may not read documents' tables, so whether an agreement is in effect is read from the
case's status: signed, confirmed or dismissed (a dismissed judicial confirmation leaves the
signed agreement a contract between the parties; only its enforceability was refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, ValidationFailed
from app.i18n import N_
from app.jobs import enqueue
from app.lifecycle import CaseStatus, advance
from app.models import Case
from app.notify import notify_parties
from app.policy import Action, require
from app.settings import Settings
from booking import aftercare

S = CaseStatus
OUTCOMES = ("written_agreement", "oral_agreement", "terminated", "withdrawn", "referred")
# Outcomes whose note is required: the oral terms (art. 28), the reason for ending (art. 26),
# and where the case went.
NOTE_REQUIRED = frozenset({"oral_agreement", "terminated", "referred"})
NOTE_MAX_LENGTH = 4000
AGREEMENT_EFFECTIVE = frozenset({S.SIGNED, S.CONFIRMED, S.DISMISSED})
# Where a case may end without a written agreement: open work the table lets conclude.
STILL_OPEN = frozenset({S.REGISTERED, S.ACCEPTED, S.SCHEDULED, S.AGREEMENT})

BAD_OUTCOME = N_("Please choose how the case ended.")
NOTE_NEEDED = N_("Please write this down (up to 4000 characters).")
NOTE_TOO_LONG = N_("This text is too long (up to 4000 characters).")
NO_AGREEMENT = N_(
    "A written agreement can be recorded only once it is in effect (signed by everyone)."
)
AGREEMENT_PENDING = N_("This case has an agreement in effect: record it as a written agreement.")
CANNOT_END = N_("The outcome of this case cannot be recorded in its present state.")
NO_OUTCOME = N_("Record the outcome before closing the case.")
ALREADY_CLOSED = N_("This case is closed.")
TERMINATION_SMS = N_(
    "Mediation of case {number} has ended without an agreement. Reason: {reason}. You may "
    "still protect your rights by arbitration, through the administrative authorities or by a "
    "lawsuit in court; the mediation centre will tell you how."
)


@dataclass(frozen=True)
class OutcomeInput:
    outcome: str
    note: str


def check_outcome(data: Mapping[str, object]) -> OutcomeInput:
    outcome, note = data.get("outcome"), data.get("note", "")
    errors = {}
    if outcome not in OUTCOMES:
        errors["outcome"] = BAD_OUTCOME
    if not isinstance(note, str):
        errors["note"] = NOTE_NEEDED
        note = ""
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        errors["note"] = NOTE_TOO_LONG
    elif outcome in NOTE_REQUIRED and not note:
        errors["note"] = NOTE_NEEDED
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(outcome, str)
    return OutcomeInput(outcome, note)


def outcome_allowed(status: str, outcome: str) -> None:
    """Raises Conflict unless a case in `status` may end with `outcome`."""
    if status in AGREEMENT_EFFECTIVE:
        if outcome != "written_agreement":
            raise Conflict(AGREEMENT_PENDING)
    elif outcome == "written_agreement":
        raise Conflict(NO_AGREEMENT if status in STILL_OPEN else CANNOT_END)
    elif status not in STILL_OPEN:
        raise Conflict(CANNOT_END)


async def do_record_outcome(
    db: AsyncSession, principal: Principal, case: Case, wanted: OutcomeInput
) -> None:
    """Records how the case ended (→ concluded); a termination tells each party by SMS which
    other routes remain (People's Mediation Law art. 26)."""
    await require(db, principal, Action.CONDUCT, case)
    await lock_row(db, Case, case.id)  # the case row first, as everywhere
    await db.refresh(case)
    outcome_allowed(case.status, wanted.outcome)
    await advance(
        db,
        case,
        S.CONCLUDED,
        principal.key,
        "outcome_recorded",
        {"outcome": wanted.outcome},
        outcome=wanted.outcome,
        outcome_note=wanted.note or None,
        outcome_at=utcnow(),
    )
    if wanted.outcome == "terminated":
        await notify_parties(db, case, TERMINATION_SMS, reason=wanted.note)
    # The documents package produces the outcome's document (art. 26 notice, art. 28 record).
    await enqueue(db, "outcome_documents", {"case_id": case.id})


async def do_close(db: AsyncSession, settings: Settings, principal: Principal, case: Case) -> None:
    """结单: the case becomes read-only except for after-care, which starts now."""
    await require(db, principal, Action.CONDUCT, case)
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status == S.CLOSED:
        raise Conflict(ALREADY_CLOSED)
    if case.status != S.CONCLUDED or case.outcome is None:
        raise Conflict(NO_OUTCOME)
    now = utcnow()
    await advance(db, case, S.CLOSED, principal.key, "closed", closed_at=now)
    await aftercare.start(db, settings, case, now)
    await enqueue(db, "archive_case", {"case_id": case.id})  # the 卷宗 (art. 27), by documents
