"""Triage (平台分诊): registering (受理), refusing (不予受理) or referring (分流) an application.

`check_*` validates (nothing written); `do_*` writes in the caller's transaction, under the
case's row lock, and queues SMS and alarms there too, so they exist only if the change commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import raise_alarm
from app.auth import Principal
from app.db import lock_row, utcnow
from app.deadlines import deadline_hours
from app.errors import Conflict, ValidationFailed
from app.i18n import N_, SHANGHAI
from app.jobs import enqueue
from app.labels import label
from app.lifecycle import CaseStatus, advance
from app.models import COMPLEXITIES, RISKS, TIERS, Case, Organization
from app.notify import SMS_LOCALE, notify_parties
from app.policy import Action, require
from app.printable import single_spaced, unprintable
from app.services import DISPUTE_TYPES, case_number, next_case_seq
from app.settings import Settings
from booking.services import cancel_all

REASON_MAX_LENGTH = 500
# 五调对接: the channels a case may be referred to instead of people's mediation.
REFERRAL_TARGETS = ("court", "police", "petition", "administrative")
REFERABLE = (
    CaseStatus.APPLIED,
    CaseStatus.REGISTERED,
    CaseStatus.ACCEPTED,
    CaseStatus.SCHEDULED,
)
ALREADY_REGISTERED = N_("This case has already been registered.")


@dataclass(frozen=True)
class Registration:
    risk: str
    complexity: str
    tier: str
    dispute_type: str | None = None  # None keeps the type the applicant chose


@dataclass(frozen=True)
class Refusal:
    reason: str
    advice: str


@dataclass(frozen=True)
class Referral:
    target: str
    note: str


def check_registration(data: dict[str, str]) -> Registration:
    errors = {}
    if data.get("risk") not in RISKS:
        errors["risk"] = N_("Please choose a risk colour.")
    if data.get("complexity") not in COMPLEXITIES:
        errors["complexity"] = N_("Please choose the complexity.")
    if data.get("tier") not in TIERS:
        errors["tier"] = N_("Please choose the tier.")
    dispute_type = data.get("dispute_type") or None
    if dispute_type is not None and dispute_type not in DISPUTE_TYPES:
        errors["dispute_type"] = N_("Please choose the kind of dispute.")
    if errors:
        raise ValidationFailed(errors)
    return Registration(data["risk"], data["complexity"], data["tier"], dispute_type)


def check_text(
    data: dict[str, str], name: str, errors: dict[str, str], *, required: bool = True
) -> str:
    """A short free text (reason, advice, note): single-spaced, printable, 1–500 characters."""
    raw = data.get(name, "")
    value = single_spaced(raw)
    if (required and not value) or len(raw) > REASON_MAX_LENGTH:
        errors[name] = N_("Please write 1 to 500 characters.")
    elif unprintable(value) is not None:
        errors[name] = N_("This text contains characters that cannot be printed.")
    return value


def check_refusal(data: dict[str, str]) -> Refusal:
    errors: dict[str, str] = {}
    reason = check_text(data, "reason", errors)
    advice = check_text(data, "advice", errors)
    if errors:
        raise ValidationFailed(errors)
    return Refusal(reason, advice)


def check_referral(data: dict[str, str]) -> Referral:
    errors: dict[str, str] = {}
    if data.get("target") not in REFERRAL_TARGETS:
        errors["target"] = N_("Please choose where the case is referred to.")
    note = check_text(data, "note", errors)
    if errors:
        raise ValidationFailed(errors)
    return Referral(data["target"], note)


async def _locked(db: AsyncSession, principal: Principal, case: Case) -> None:
    """The case re-read under its row lock, and the principal allowed to triage it."""
    await require(db, principal, Action.REGISTER, case)
    await lock_row(db, Case, case.id)
    await db.refresh(case)


async def do_register(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case: Case,
    reg: Registration,
    *,
    now: datetime | None = None,
) -> Case:
    """受理: give the case its number, type, tier, risk colour and deadline."""
    # Two coordinators may register the same application at once: the row lock makes the second
    # see the first one's registration and get a 409 instead of renumbering the case.
    await _locked(db, principal, case)
    if case.status != CaseStatus.APPLIED:
        raise Conflict(ALREADY_REGISTERED)
    org = await db.get(Organization, case.org_id)
    assert org is not None
    now = now or utcnow()
    year = now.astimezone(SHANGHAI).year
    seq = await next_case_seq(db, org.id, year)
    number = case_number(year, org.short_name, seq)
    await advance(
        db,
        case,
        CaseStatus.REGISTERED,
        principal.key,
        data={"number": number},
        year=year,
        seq=seq,
        number=number,
        dispute_type=reg.dispute_type or case.dispute_type,
        risk=reg.risk,
        complexity=reg.complexity,
        tier=reg.tier,
        registered_at=now,
        deadline_at=now + timedelta(hours=(await deadline_hours(db, settings))[reg.complexity]),
    )
    if reg.risk == "red" and org.parent_id is not None:
        await red_alarm(db, case, org.parent_id)
    return case


async def red_alarm(db: AsyncSession, case: Case, parent_id: int) -> None:
    """Red cases notify the tier above (seed 003): an SMS to its coordinators and an alarm."""
    await enqueue(db, "red_alert", {"case_id": case.id, "org_id": parent_id})
    await raise_alarm(
        db,
        f"red:{case.id}:{parent_id}",
        "red_case",
        org_id=parent_id,
        case_id=case.id,
        level="critical",
        data={"number": case.number},
    )


async def do_refuse(db: AsyncSession, principal: Principal, case: Case, refusal: Refusal) -> Case:
    """不予受理, with the reason and advice on other routes, texted to the parties."""
    await _locked(db, principal, case)
    if case.status != CaseStatus.APPLIED:
        raise Conflict(ALREADY_REGISTERED)
    await advance(
        db,
        case,
        CaseStatus.REFUSED,
        principal.key,
        data={"reason": refusal.reason, "advice": refusal.advice},
    )
    await notify_parties(
        db,
        case,
        "Your application {number} was not accepted for mediation: {reason} "
        "What you can do: {advice}",
        reason=refusal.reason,
        advice=refusal.advice,
    )
    return case


async def do_refer(db: AsyncSession, principal: Principal, case: Case, referral: Referral) -> Case:
    """分流: the case goes to another channel with its whole timeline (kept, not copied)."""
    await _locked(db, principal, case)
    if case.status not in REFERABLE:
        raise Conflict("This case can no longer be referred.")
    await cancel_all(db, case, principal.key)  # the other channel holds its own sessions
    await advance(
        db,
        case,
        CaseStatus.REFERRED,
        principal.key,
        data={"target": referral.target, "note": referral.note},
    )
    await notify_parties(
        db,
        case,
        "Case {number} was referred to {target}: {note}",
        target=_target_label(referral.target),
        note=referral.note,
    )
    return case


def _target_label(target: str) -> str:
    return label("referral", target, SMS_LOCALE)
