"""Case spine use cases: online application, registration (受理), timeline, listings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import insert_if_missing, lock_row, utcnow
from app.errors import Conflict, ValidationFailed
from app.forms import (
    ADDRESS_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_MIN_LENGTH,
    NAME_MAX_LENGTH,
    parse_id,
)
from app.i18n import N_, SHANGHAI
from app.identity import id_digest, mask_id_number, normalize_id_number, normalize_phone
from app.jobs import enqueue
from app.labels import LABELS
from app.models import (
    COMPLEXITIES,
    RISKS,
    TIERS,
    Case,
    CaseEvent,
    CaseSequence,
    Organization,
    Party,
)
from app.printable import UNPRINTABLE, single_spaced, unprintable
from app.settings import Settings

DISPUTE_TYPES = LABELS["dispute"]


@dataclass(frozen=True)
class PartyInput:
    role: str
    name: str
    phone: str
    id_number: str
    address: str


@dataclass(frozen=True)
class ApplicationInput:
    org_id: int
    dispute_type: str
    description: str
    parties: tuple[PartyInput, ...]


def check_party(prefix: str, role: str, data: dict[str, str], errors: dict[str, str]) -> PartyInput:
    # Names and addresses are printed on the agreement: typed white space normalised, and
    # characters that would not print as typed refused (app/printable.py).
    name = single_spaced(data.get(f"{prefix}name", ""))
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        errors[f"{prefix}name"] = N_("Please enter the name (up to 64 characters).")
    elif unprintable(name) is not None or "\n" in name:
        errors[f"{prefix}name"] = UNPRINTABLE
    phone = normalize_phone(data.get(f"{prefix}phone", ""))
    if phone is None:
        errors[f"{prefix}phone"] = N_("Please enter an 11-digit mainland mobile number.")
    id_number = normalize_id_number(data.get(f"{prefix}id_number", ""))
    if id_number is None:
        errors[f"{prefix}id_number"] = N_("This is not a valid 18-character resident ID number.")
    address = single_spaced(data.get(f"{prefix}address", "")).replace("\n", " ")
    if len(address) > ADDRESS_MAX_LENGTH:
        errors[f"{prefix}address"] = N_("The address is too long (up to 200 characters).")
    elif unprintable(address) is not None:
        errors[f"{prefix}address"] = UNPRINTABLE
    return PartyInput(role, name, phone or "", id_number or "", address)


async def check_application(db: AsyncSession, data: dict[str, str]) -> ApplicationInput:
    errors: dict[str, str] = {}
    org_id = parse_id(data.get("org_id"))
    org = await db.get(Organization, org_id) if org_id else None
    if org is None or org.kind != "mediation":
        errors["org_id"] = N_("Please choose a mediation organisation.")
    if data.get("dispute_type") not in DISPUTE_TYPES:
        errors["dispute_type"] = N_("Please choose the kind of dispute.")
    description = data.get("description", "").strip()
    if not DESCRIPTION_MIN_LENGTH <= len(description) <= DESCRIPTION_MAX_LENGTH:
        errors["description"] = N_("Please describe the dispute in 10 to 4000 characters.")
    parties = (
        check_party("applicant_", "applicant", data, errors),
        check_party("respondent_", "respondent", data, errors),
    )
    if errors:
        raise ValidationFailed(errors)
    assert org_id is not None
    return ApplicationInput(org_id, data["dispute_type"], description, parties)


async def do_submit_application(
    db: AsyncSession, settings: Settings, application: ApplicationInput, actor: str = "public"
) -> Case:
    org = await db.get(Organization, application.org_id)
    assert org is not None  # checked by check_application
    case = Case(
        org_id=org.id,
        dispute_type=application.dispute_type,
        tier=org.tier,
        description=application.description,
        status="applied",
    )
    db.add(case)
    await db.flush()
    for p in application.parties:
        db.add(
            Party(
                case_id=case.id,
                role=p.role,
                name=p.name,
                phone=p.phone,
                address=p.address,
                id_masked=mask_id_number(p.id_number),
                id_digest=id_digest(p.id_number, settings.id_hash_key),
            )
        )
    await record_event(db, case.id, "applied", actor)
    await db.flush()
    return case


async def next_case_seq(db: AsyncSession, org_id: int, year: int) -> int:
    """The organisation's next number this year. The increment holds the counter row's lock until
    the registration commits (or rolls back, giving the number back), so concurrent
    registrations queue here for a moment and get unique, gap-free numbers."""
    await insert_if_missing(db, CaseSequence, org_id=org_id, year=year, last_seq=0)
    seq = await db.scalar(
        update(CaseSequence)
        .where(CaseSequence.org_id == org_id, CaseSequence.year == year)
        .values(last_seq=CaseSequence.last_seq + 1)
        .returning(CaseSequence.last_seq)
    )
    assert seq is not None
    return int(seq)


def case_number(year: int, short_name: str, seq: int) -> str:
    return f"（{year}）{short_name}矛调字第{seq:04d}号"


@dataclass(frozen=True)
class Registration:
    risk: str
    complexity: str
    tier: str


def check_registration(data: dict[str, str]) -> Registration:
    errors = {}
    if data.get("risk") not in RISKS:
        errors["risk"] = N_("Please choose a risk colour.")
    if data.get("complexity") not in COMPLEXITIES:
        errors["complexity"] = N_("Please choose the complexity.")
    if data.get("tier") not in TIERS:
        errors["tier"] = N_("Please choose the tier.")
    if errors:
        raise ValidationFailed(errors)
    return Registration(data["risk"], data["complexity"], data["tier"])


async def do_register(
    db: AsyncSession, settings: Settings, principal: Principal, case: Case, reg: Registration
) -> Case:
    """受理: give the case its number, tier, risk colour and deadline."""
    # Two coordinators may register the same application at once: the row lock makes the second
    # see the first one's registration and get a 409 instead of renumbering the case.
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status != "applied":
        raise Conflict("This case has already been registered.")
    org = await db.get(Organization, case.org_id)
    assert org is not None
    now = utcnow()
    year = now.astimezone(SHANGHAI).year
    case.year, case.seq = year, await next_case_seq(db, org.id, year)
    case.number = case_number(year, org.short_name, case.seq)
    case.risk, case.complexity, case.tier = reg.risk, reg.complexity, reg.tier
    case.status, case.registered_at = "registered", now
    case.deadline_at = now + timedelta(hours=settings.deadline_hours[reg.complexity])
    await record_event(db, case.id, "registered", principal.key, {"number": case.number})
    if reg.risk == "red" and org.parent_id is not None:
        await enqueue(db, "red_alert", {"case_id": case.id, "org_id": org.parent_id})
    return case


async def record_event(
    db: AsyncSession,
    case_id: int,
    kind: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    public: bool = True,
) -> None:
    db.add(CaseEvent(case_id=case_id, kind=kind, actor=actor, data=data or {}, public=public))


async def timeline(db: AsyncSession, case_id: int, *, public_only: bool) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id)
    if public_only:
        query = query.where(CaseEvent.public.is_(True))
    return list(await db.scalars(query.order_by(CaseEvent.at, CaseEvent.id)))


async def parties_of(db: AsyncSession, case_id: int) -> list[Party]:
    return list(await db.scalars(select(Party).where(Party.case_id == case_id).order_by(Party.id)))


RISK_ORDER = sql_case({"red": 0, "yellow": 1, "blue": 2}, value=Case.risk, else_=3)


async def cases_for(db: AsyncSession, principal: Principal) -> list[Case]:
    """The staff member's working list: red first, then by deadline."""
    from app.policy import org_subtree

    query = select(Case)
    if principal.role in ("admin", "coordinator") and principal.org_id is not None:
        query = query.where(Case.org_id.in_(await org_subtree(db, principal.org_id)))
    elif principal.role in ("mediator", "expert"):
        query = query.where(Case.mediator_id == principal.staff_id)
    else:
        return []
    query = query.order_by(RISK_ORDER, Case.deadline_at.is_(None), Case.deadline_at, Case.id)
    return list(await db.scalars(query.limit(200)))
