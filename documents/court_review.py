"""The court's side of judicial confirmation, one move at a time (民事诉讼法 art. 205–206; SPC
provisions on judicial confirmation, 2011): the clerk's pre-review — accept (受理, with the court's
case number; the 15-day clock starts), not accept (不予受理, with the reason) or ask the mediator
for a supplement (补正) —, the mediator's resubmission, the judge's ruling (裁定: confirmed or
dismissed, with reasons) and the one 10-day extension of its clock (with who approved it and
why), and withdrawal (撤回) by a party before the ruling.

Every move is one conditional UPDATE from the status the filing was read in, so of concurrent
moves exactly one happens and the others get 409. A filing that is not accepted or withdrawn
gives the case back to SIGNED: the agreement may be filed again, with the competent court, while
its 30 days run.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_, format_date, translate
from app.lifecycle import CaseStatus, advance
from app.models import Case, CaseEvent, StaffUser
from app.notify import SMS_LOCALE, notify_parties, send_sms
from documents import court_events
from documents.court_clocks import WEEKENDS_ONLY, RestDays, last_day, ruling_due
from documents.models import CourtFiling
from documents.packet import request_packet
from documents.ruling import request_ruling

NOTE_MAX_LENGTH = 2000
NUMBER_MAX_LENGTH = 40
APPROVER_MAX_LENGTH = 64
REVIEWS = ("accepted", "not_accepted", "supplement")
DECISIONS = ("confirmed", "dismissed")
# The filings still before the court, and what each may become.
MOVES: dict[str, frozenset[str]] = {
    "filed": frozenset({"accepted", "not_accepted", "supplement", "withdrawn"}),
    "supplement": frozenset({"filed", "withdrawn"}),
    "accepted": frozenset({"confirmed", "dismissed", "withdrawn"}),
}
PENDING = tuple(MOVES)
REFILABLE = ("not_accepted", "withdrawn")  # the agreement may be filed again
CHANGED = N_("This application was changed meanwhile. Please reload the page.")
NOT_NOW = N_("This application cannot take this step in its present state.")


TOO_LONG = {
    NOTE_MAX_LENGTH: N_("The note is too long (up to 2000 characters)."),
    NUMBER_MAX_LENGTH: N_("The case number is too long (up to 40 characters)."),
    APPROVER_MAX_LENGTH: N_("This is too long (up to 64 characters)."),
}


def _text(value: Any, name: str, limit: int, *, required: str | None = None) -> str | None:
    """A note as typed (white space at the ends dropped), refused with control characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed({name: N_("Please enter text.")})
    value = value.strip()
    if not value:
        if required is not None:
            raise ValidationFailed({name: required})
        return None
    if len(value) > limit:
        raise ValidationFailed({name: TOO_LONG[limit]})
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        raise ValidationFailed({name: N_("Please remove the invisible control characters.")})
    return value


def check_case_number(value: Any) -> str:
    number = _text(
        value,
        "court_case_number",
        NUMBER_MAX_LENGTH,
        required=N_("Please enter the court's case number, e.g. (2026)苏0509民特123号."),
    )
    assert number is not None
    if "\n" in number or "\t" in number:
        raise ValidationFailed({"court_case_number": N_("The case number is one line.")})
    return number


def require_court(principal: Principal, role: str) -> None:
    """The court's own clerk or judge, or its system (which has both their API rights); an
    administrator is never the court."""
    if principal.kind == "court_system":
        return
    if principal.kind == "anonymous":
        raise NotAuthenticated(N_("Please log in first."))
    if principal.kind != "staff" or principal.role != role:
        raise PermissionDenied(N_("You are not allowed to do this."))


async def _move(db: AsyncSession, filing: CourtFiling, target: str, **values: Any) -> CourtFiling:
    source = filing.status
    if target not in MOVES.get(source, ()):
        raise Conflict(NOT_NOW)
    try:
        async with db.begin_nested():
            changed = await db.execute(
                update(CourtFiling)
                .where(CourtFiling.id == filing.id, CourtFiling.status == source)
                .values(status=target, **values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise Conflict(
            N_("Another application of this court already has this case number.")
        ) from None
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(CHANGED)
    await db.refresh(filing)
    return filing


def _event(db: AsyncSession, filing: CourtFiling, kind: str, actor: str, **data: Any) -> None:
    db.add(CaseEvent(case_id=filing.case_id, kind=kind, actor=actor, data=data, public=True))


async def _case(db: AsyncSession, filing: CourtFiling) -> Case:
    case = await db.get(Case, filing.case_id)
    assert case is not None
    return case


async def _text_mediator(db: AsyncSession, case: Case, message: str, **values: Any) -> None:
    mediator = await db.get(StaffUser, case.mediator_id) if case.mediator_id else None
    if mediator is not None and mediator.phone:
        body = translate(message, SMS_LOCALE, number=case.number, **values)
        await send_sms(db, mediator.phone, body, case.id)


async def _text_court(db: AsyncSession, filing: CourtFiling, role: str, message: str) -> None:
    case = await _case(db, filing)
    people = await db.scalars(
        select(StaffUser).where(
            StaffUser.org_id == filing.court_org_id,
            StaffUser.role == role,
            StaffUser.active.is_(True),
        )
    )
    for person in people:
        if person.phone:
            await send_sms(
                db, person.phone, translate(message, SMS_LOCALE, number=case.number), case.id
            )


ACCEPTED_SMS = N_(
    "Case {number}: the court accepted the application for judicial confirmation under number "
    "{court_number}; it rules by {day}."
)
NOT_ACCEPTED_SMS = N_(
    "Case {number}: the court did not accept the application for judicial confirmation. "
    "Reason: {note}"
)
SUPPLEMENT_SMS = N_(
    "Case {number}: the court asks for a supplement to the judicial-confirmation application: "
    "{note}"
)


async def review(
    db: AsyncSession,
    principal: Principal,
    filing: CourtFiling,
    outcome: Any,
    *,
    court_case_number: Any = None,
    note: Any = None,
    rest: RestDays = WEEKENDS_ONLY,
    now: datetime | None = None,
) -> CourtFiling:
    """The clerk's pre-review of a filed application."""
    require_court(principal, "court_clerk")
    if outcome not in REVIEWS:
        raise ValidationFailed({"outcome": N_("Please choose accept, not accept or supplement.")})
    now = now or utcnow()
    if outcome == "accepted":
        number = check_case_number(court_case_number)
        text = _text(note, "note", NOTE_MAX_LENGTH)
        due = ruling_due(now, rest)
        await _move(
            db,
            filing,
            "accepted",
            court_case_number=number,
            reviewed_by=principal.key,
            reviewed_at=now,
            review_note=text,
            accepted_at=now,
            ruling_due_at=due,
        )
        _event(db, filing, "court_accepted", principal.key, number=number, due=due.isoformat())
        case = await _case(db, filing)
        day = format_date(last_day(due), SMS_LOCALE)
        await notify_parties(db, case, ACCEPTED_SMS, court_number=number, day=day)
        await _text_mediator(db, case, ACCEPTED_SMS, court_number=number, day=day)
        await _text_court(
            db, filing, "judge", N_("Judicial confirmation accepted for ruling: case {number}.")
        )
        return filing
    required = (
        N_("Please give the reason for not accepting.")
        if outcome == "not_accepted"
        else N_("Please say what the mediator should supplement.")
    )
    text = _text(note, "note", NOTE_MAX_LENGTH, required=required)
    await _move(db, filing, outcome, reviewed_by=principal.key, reviewed_at=now, review_note=text)
    case = await _case(db, filing)
    if outcome == "not_accepted":
        await advance(
            db, case, CaseStatus.SIGNED, principal.key, "court_not_accepted", {"note": text}
        )
        await notify_parties(db, case, NOT_ACCEPTED_SMS, note=text)
        await _text_mediator(db, case, NOT_ACCEPTED_SMS, note=text)
    else:
        _event(db, filing, "court_supplement", principal.key, note=text)
        await _text_mediator(db, case, SUPPLEMENT_SMS, note=text)
    return filing


async def resubmit(
    db: AsyncSession, principal: Principal, case: Case, filing: CourtFiling, note: Any
) -> CourtFiling:
    """The mediator answers a supplement request: the application goes back to the clerk."""
    if principal.kind != "staff" or case.mediator_id != principal.staff_id:
        raise PermissionDenied(N_("Only the case's mediator may do this."))
    text = _text(note, "note", NOTE_MAX_LENGTH, required=N_("Please say what was supplemented."))
    await _move(db, filing, "filed", resubmitted_at=utcnow())
    await request_packet(db, filing)  # the court gets the supplemented packet as a new version
    _event(db, filing, "court_resubmitted", principal.key, note=text)
    await _text_court(
        db,
        filing,
        "court_clerk",
        N_("Supplement received for judicial confirmation: case {number}."),
    )
    return filing


RULING_SMS = {
    "confirmed": N_(
        "Case {number}: the court confirmed the mediation agreement ({court_number}). "
        "The ruling is on your case page."
    ),
    "dismissed": N_(
        "Case {number}: the court dismissed the application for judicial confirmation "
        "({court_number}). The ruling and its reasons are on your case page."
    ),
}


async def decide(
    db: AsyncSession,
    principal: Principal,
    filing: CourtFiling,
    decision: Any,
    note: Any,
    *,
    now: datetime | None = None,
) -> CourtFiling:
    """The judge's ruling on an accepted application, with its reasons (required to dismiss)."""
    require_court(principal, "judge")
    if decision not in DECISIONS:
        raise ValidationFailed({"decision": N_("Please choose confirm or dismiss.")})
    required = N_("Please give the reasons for dismissing.") if decision == "dismissed" else None
    text = _text(note, "note", NOTE_MAX_LENGTH, required=required)
    now = now or utcnow()
    await _move(db, filing, decision, decided_by=principal.key, decided_at=now, decision_note=text)
    case = await _case(db, filing)
    await advance(db, case, CaseStatus(decision), principal.key, data={"note": text})
    # The parties are served with the sealed ruling once it exists (documents/ruling.py).
    await request_ruling(db, filing)
    await _text_mediator(db, case, RULING_SMS[decision], court_number=filing.court_case_number)
    return filing


async def extend(
    db: AsyncSession,
    principal: Principal,
    filing: CourtFiling,
    approved_by: Any,
    reason: Any,
    *,
    rest: RestDays = WEEKENDS_ONLY,
) -> CourtFiling:
    """Extends the ruling's clock once, by 10 days, with who approved it and why."""
    require_court(principal, "judge")
    approver = _text(
        approved_by,
        "approved_by",
        APPROVER_MAX_LENGTH,
        required=N_("Please say who approved the extension (e.g. the court's president)."),
    )
    why = _text(
        reason, "reason", NOTE_MAX_LENGTH, required=N_("Please give the reason for extending.")
    )
    if filing.status != "accepted" or filing.accepted_at is None:
        raise Conflict(NOT_NOW)
    if filing.extended_at is not None:
        raise Conflict(N_("The time for ruling was already extended once."))
    due = ruling_due(filing.accepted_at, rest, extended=True)
    changed = await db.execute(
        update(CourtFiling)
        .where(
            CourtFiling.id == filing.id,
            CourtFiling.status == "accepted",
            CourtFiling.extended_at.is_(None),
        )
        .values(
            extended_at=utcnow(),
            extended_by=principal.key,
            extension_approved_by=approver,
            extension_note=why,
            ruling_due_at=due,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(CHANGED)
    await db.refresh(filing)
    _event(db, filing, "court_extended", principal.key, due=due.isoformat(), reason=why)
    case = await _case(db, filing)
    day = format_date(last_day(due), SMS_LOCALE)
    await notify_parties(db, case, EXTENDED_SMS, day=day)
    return filing


EXTENDED_SMS = N_(
    "Case {number}: the court extended the time for its ruling on judicial confirmation to {day}."
)
WITHDRAWN_SMS = N_("Case {number}: a party withdrew the application for judicial confirmation.")


async def withdraw(
    db: AsyncSession, principal: Principal, filing: CourtFiling, note: Any
) -> CourtFiling:
    """A party withdraws the joint application before the ruling (撤回)."""
    if principal.kind != "party" or principal.case_id != filing.case_id:
        raise PermissionDenied(N_("Only a party to this case may withdraw its application."))
    text = _text(note, "note", NOTE_MAX_LENGTH)
    await _move(
        db,
        filing,
        "withdrawn",
        withdrawn_by=principal.key,
        withdrawn_at=utcnow(),
        withdrawal_note=text,
    )
    case = await _case(db, filing)
    await advance(db, case, CaseStatus.SIGNED, principal.key, "court_withdrawn", {"note": text})
    await court_events.withdrawn(db, filing, case)
    await notify_parties(db, case, WITHDRAWN_SMS)
    await _text_mediator(db, case, WITHDRAWN_SMS)
    await _text_court(db, filing, "court_clerk", WITHDRAWN_SMS)
    return filing


async def live_filing(db: AsyncSession, case_id: int) -> CourtFiling | None:
    return await db.scalar(
        select(CourtFiling)
        .where(CourtFiling.case_id == case_id, CourtFiling.status.in_(PENDING))
        .order_by(CourtFiling.id.desc())
        .limit(1)
    )


async def load_for_party(db: AsyncSession, principal: Principal, filing_id: int) -> CourtFiling:
    filing = await db.get(CourtFiling, filing_id)
    if filing is None or principal.kind != "party" or principal.case_id != filing.case_id:
        raise NotFound(N_("This filing does not exist or you may not see it."))
    return filing
