"""Intake (受理前): an application as it really arrives — online from a party, at the front desk
(walk-in) or from a grid worker — with any number of parties on each side, persons or
organisations, their agents, and a group case's member list. Validated in `check_application`,
written in one transaction by `do_submit_application`; the receipt SMS follows with
`do_send_receipt` (phone verification: booking/phone_codes.py)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import issue_party_link
from app.errors import ValidationFailed
from app.forms import (
    ADDRESS_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_MIN_LENGTH,
    NAME_MAX_LENGTH,
    parse_id,
)
from app.i18n import N_, translate
from app.identity import id_digest, mask_id_number, normalize_id_number, normalize_phone
from app.lifecycle import CaseStatus
from app.models import CHANNELS, Case, Organization, Party, StaffUser
from app.notify import SMS_LOCALE, send_sms
from app.policy import subtree_query
from app.printable import UNPRINTABLE, single_spaced, unprintable
from app.services import DISPUTE_TYPES, record_event
from app.settings import Settings
from booking.credit_code import normalize_credit_code
from booking.group_members import (
    BAD_LINE,
    MAX_MEMBERS,
    TOO_MANY,
    GroupMemberInput,
    parse_members,
)
from booking.models import GroupMember, PartyAgent

__all__ = ["DISPUTE_TYPES", "GroupMemberInput"]

MAX_PER_SIDE = 20  # more people on one side: representatives plus the member list
MAX_AGENTS = 10
SIDES = ("applicant", "respondent")
AUTHORITIES = ("general", "special")  # 一般授权, 特别授权
PUBLIC_CHANNELS = ("online",)
STAFF_CHANNELS = ("walk_in", "grid")
RECEIPT_SMS = N_(
    "[{org}] We received your application. Receipt number {receipt}. Follow its progress "
    "at {link} , or at {lookup} with the receipt number and this phone."
)


@dataclass(frozen=True)
class PartyInput:
    role: str  # the side: applicant | respondent
    name: str
    phone: str
    id_number: str  # "" when not given (optional at intake)
    address: str
    kind: str = "person"
    credit_code: str = ""
    representative: str = ""


@dataclass(frozen=True)
class AgentInput:
    party_index: int  # into ApplicationInput.parties
    name: str
    phone: str
    authority: str


@dataclass(frozen=True)
class ApplicationInput:
    org_id: int
    dispute_type: str
    description: str
    parties: tuple[PartyInput, ...]
    agents: tuple[AgentInput, ...] = ()
    group_members: tuple[GroupMemberInput, ...] = ()
    channel: str = "online"
    preferred_mediator_id: int | None = None


def slot(role: str, index: int) -> str:
    """Form prefix of the index-th party of a side: applicant, applicant2, applicant3, …"""
    return role if index == 0 else f"{role}{index + 1}"


def _text(
    data: Mapping[str, str], name: str, limit: int, message: str, errors: dict[str, str]
) -> str:
    # Names and addresses are printed on the agreement: typed white space normalised, and
    # characters that would not print as typed refused (app/printable.py).
    value = single_spaced(data.get(name, "")).replace("\n", " ")
    if len(value) > limit:
        errors[name] = message
    elif unprintable(value) is not None:
        errors[name] = UNPRINTABLE
    return value


def _identity(prefix: str, kind: str, data: Mapping[str, str], errors: dict[str, str]) -> str:
    """The ID number of a person (optional, valid when given) or an organisation's credit code."""
    field = f"{prefix}credit_code" if kind == "organisation" else f"{prefix}id_number"
    raw = data.get(field, "").strip()
    if not raw:
        return ""
    value = normalize_credit_code(raw) if kind == "organisation" else normalize_id_number(raw)
    if value is None:
        errors[field] = (
            N_("This is not a valid unified social credit code (18 characters, check the last).")
            if kind == "organisation"
            else N_("This is not a valid 18-character resident ID number.")
        )
    return value or ""


def check_party(
    prefix: str, role: str, data: Mapping[str, str], errors: dict[str, str]
) -> PartyInput:
    kind = data.get(f"{prefix}kind") or "person"
    if kind not in ("person", "organisation"):
        errors[f"{prefix}kind"], kind = N_("Choose a person or an organisation."), "person"
    name = _text(data, f"{prefix}name", NAME_MAX_LENGTH, "", errors)
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        errors[f"{prefix}name"] = N_("Please enter the name (up to 64 characters).")
    phone = normalize_phone(data.get(f"{prefix}phone", ""))
    if phone is None:
        errors[f"{prefix}phone"] = N_("Please enter an 11-digit mainland mobile number.")
    identity = _identity(prefix, kind, data, errors)
    address = _text(
        data,
        f"{prefix}address",
        ADDRESS_MAX_LENGTH,
        N_("The address is too long (up to 200 characters)."),
        errors,
    )
    representative = ""
    if kind == "organisation":
        representative = _text(
            data,
            f"{prefix}representative",
            NAME_MAX_LENGTH,
            N_("Please enter the name (up to 64 characters)."),
            errors,
        )
    person = kind == "person"
    return PartyInput(
        role,
        name,
        phone or "",
        identity if person else "",
        address,
        kind,
        "" if person else identity,
        representative,
    )


def party_count(data: Mapping[str, str], role: str) -> int:
    """How many parties the form has on this side (`applicants` / `respondents`, default 1)."""
    raw = data.get(f"{role}s", "1")
    number = parse_id(raw) if raw else None
    return min(number, MAX_PER_SIDE) if number else 1


def agent_count(data: Mapping[str, str]) -> int:
    raw = data.get("agents", "")
    number = parse_id(raw) if raw and raw != "0" else None
    return min(number, MAX_AGENTS) if number else 0


def _check_parties(data: Mapping[str, str], errors: dict[str, str]) -> tuple[PartyInput, ...]:
    return tuple(
        check_party(f"{slot(role, i)}_", role, data, errors)
        for role in SIDES
        for i in range(party_count(data, role))
    )


def _check_agents(
    data: Mapping[str, str], parties: tuple[PartyInput, ...], errors: dict[str, str]
) -> tuple[AgentInput, ...]:
    slots = [slot(p.role, i) for role in SIDES for i, p in enumerate(_of(parties, role))]
    agents = []
    for n in range(1, agent_count(data) + 1):
        prefix = f"agent{n}_"
        name = _text(data, f"{prefix}name", NAME_MAX_LENGTH, "", errors)
        if not 1 <= len(name) <= NAME_MAX_LENGTH:
            errors[f"{prefix}name"] = N_("Please enter the name (up to 64 characters).")
        phone = normalize_phone(data.get(f"{prefix}phone", ""))
        if phone is None:
            errors[f"{prefix}phone"] = N_("Please enter an 11-digit mainland mobile number.")
        authority = data.get(f"{prefix}authority", "")
        if authority not in AUTHORITIES:
            errors[f"{prefix}authority"] = N_("Choose general or special authority.")
        party = data.get(f"{prefix}party", "")
        if party not in slots:
            errors[f"{prefix}party"] = N_("Choose the party this agent acts for.")
        else:
            agents.append(AgentInput(slots.index(party), name, phone or "", authority))
    return tuple(agents)


def _of(parties: tuple[PartyInput, ...], role: str) -> list[PartyInput]:
    return [p for p in parties if p.role == role]


def _check_members(data: Mapping[str, str], errors: dict[str, str]) -> tuple[GroupMemberInput, ...]:
    members, bad = parse_members(data.get("group_members", ""))
    if bad:
        errors["group_members"] = BAD_LINE
    elif len(members) > MAX_MEMBERS:
        errors["group_members"] = TOO_MANY
    return members


async def _check_mediator(
    db: AsyncSession, org_id: int, raw: str, errors: dict[str, str]
) -> int | None:
    """The mediator the applicant asked for: active, and in the chosen organisation's subtree."""
    if not raw:
        return None
    staff_id = parse_id(raw)
    person = await db.get(StaffUser, staff_id) if staff_id else None
    found = person is not None and person.active and person.role == "mediator"
    if found and person is not None:
        found = person.org_id in set(await db.scalars(subtree_query(org_id)))
    if not found:
        errors["preferred_mediator_id"] = N_(
            "This mediator does not work for the chosen organisation."
        )
        return None
    return staff_id


async def check_application(
    db: AsyncSession, data: Mapping[str, str], *, channels: tuple[str, ...] = PUBLIC_CHANNELS
) -> ApplicationInput:
    """The application in `data` (flat form field names), or ValidationFailed naming each bad
    field. `channels`: what the sender may choose (the public: online; staff: walk_in, grid)."""
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
    channel = data.get("channel") or channels[0]
    if channel not in channels or channel not in CHANNELS:
        errors["channel"] = N_("Choose how the dispute reached the centre.")
    parties = _check_parties(data, errors)
    agents = _check_agents(data, parties, errors)
    members = _check_members(data, errors)
    mediator = None
    if org is not None and "org_id" not in errors:
        mediator = await _check_mediator(db, org.id, data.get("preferred_mediator_id", ""), errors)
    if errors:
        raise ValidationFailed(errors)
    assert org_id is not None
    return ApplicationInput(
        org_id, data["dispute_type"], description, parties, agents, members, channel, mediator
    )


def new_receipt() -> str:
    """R + 10 base32 characters (50 random bits): short enough to read out on the phone, too
    many to guess, and no 0/1/8 to confuse with O/I/B."""
    return "R" + base64.b32encode(secrets.token_bytes(7)).decode()[:10]


def _party_row(case_id: int, p: PartyInput, settings: Settings) -> Party:
    return Party(
        case_id=case_id,
        role=p.role,
        kind=p.kind,
        name=p.name,
        phone=p.phone,
        address=p.address,
        id_masked=mask_id_number(p.id_number) if p.id_number else "",
        id_digest=id_digest(p.id_number, settings.id_hash_key) if p.id_number else "",
        credit_code=p.credit_code or None,
        representative=p.representative or None,
    )


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
        status=CaseStatus.APPLIED.value,
        channel=application.channel,
        receipt=new_receipt(),
        preferred_mediator_id=application.preferred_mediator_id,
    )
    db.add(case)
    await db.flush()
    rows = [_party_row(case.id, p, settings) for p in application.parties]
    db.add_all(rows)
    await db.flush()
    for agent in application.agents:
        party_id = rows[agent.party_index].id
        db.add(
            PartyAgent(
                party_id=party_id, name=agent.name, phone=agent.phone, authority=agent.authority
            )
        )
    if application.group_members:  # one multi-row INSERT, however long the list
        await db.execute(
            insert(GroupMember),
            [
                {
                    "case_id": case.id,
                    "position": n,
                    "name": m.name,
                    "phone": m.phone,
                    "address": m.address,
                }
                for n, m in enumerate(application.group_members, start=1)
            ],
        )
    data = {"channel": application.channel, "parties": len(rows)}
    if application.group_members:
        data["group_members"] = len(application.group_members)
    await record_event(db, case.id, "applied", actor, data)
    if application.preferred_mediator_id is not None:  # 挂号: the choice is in the timeline
        chosen = await db.get(StaffUser, application.preferred_mediator_id)
        name = chosen.display_name if chosen else None
        choice = {"staff_id": application.preferred_mediator_id, "name": name}
        await record_event(db, case.id, "mediator_chosen", actor, choice)
    await db.flush()
    return case


async def first_applicant(db: AsyncSession, case_id: int) -> Party:
    party = await db.scalar(
        select(Party)
        .where(Party.case_id == case_id, Party.role == "applicant")
        .order_by(Party.id)
        .limit(1)
    )
    assert party is not None  # every application has an applicant
    return party


async def do_send_receipt(db: AsyncSession, settings: Settings, case: Case) -> None:
    """Texts the first applicant the receipt number and a capability link to the case (the
    token exists only in the SMS; only its hash is stored)."""
    party = await first_applicant(db, case.id)
    org = await db.get(Organization, case.org_id)
    token = await issue_party_link(db, party.id, settings.party_link_days)
    body = translate(
        RECEIPT_SMS,
        SMS_LOCALE,
        org=org.name if org else "",
        receipt=case.receipt,
        link=f"{settings.base_url}/p/{token}",
        lookup=f"{settings.base_url}/lookup",
    )
    await send_sms(db, party.phone, body, case.id)
