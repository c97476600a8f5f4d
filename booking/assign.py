"""Auto-assignment ("let the system choose"): the least-loaded matching mediator.

Matching: a mediator of the case's organisation or below, in an organisation of the case's tier,
with the dispute type among their specialties, speaking the language the party asked for.
Load: the mediator's open cases, each weighted by its complexity (MEDIATION_LOAD_WEIGHTS). One
statement finds the candidates with their load, five more their next free time; the party's
choice goes first when it matches and has free time, otherwise the least loaded who has free
time (then the earliest free, then the lowest id, so the choice is reproducible).

Concurrency: the assignment is a dispatch (booking/dispatch.py) taken under the case's row lock
and only from `registered`, so two simultaneous "let the system choose" on one case assign it
once; the other gets 409. Two cases assigned at once may both read the same load and pick the
same person: a load is advice, not an invariant, and the receiver may still decline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import Conflict, ValidationFailed
from app.i18n import N_
from app.lifecycle import OPEN, CaseStatus
from app.models import Case, Organization, StaffUser
from app.policy import Action, load_case, require, subtree_query
from app.services import record_event
from app.settings import Settings
from booking.dispatch import DispatchPlan, do_dispatch
from booking.models import BookingProfile
from booking.roster import FILTER_MAX, json_has
from booking.search import earliest_each
from booking.slots import DEFAULT_MINUTES

NOBODY = N_("No mediator of this tier has this specialty and language: please dispatch by hand.")
NOT_REGISTERED = N_("Only a registered case not yet dispatched can be assigned by the system.")
LANGUAGE_TOO_LONG = N_("At most 64 characters.")
ONCE = (CaseStatus.REGISTERED,)  # checked again under the case's row lock


@dataclass(frozen=True)
class Candidate:
    staff_id: int
    name: str
    org_id: int
    open_cases: int
    load: int  # open cases weighted by complexity
    next_free: datetime | None = None


@dataclass(frozen=True)
class Choice:
    chosen: Candidate
    preferred: bool  # the party's own choice
    considered: int


def load_query(weights: Mapping[str, int]) -> Any:
    """Per mediator: open cases, and their sum weighted by complexity."""
    weight = when(*((Case.complexity == name, value) for name, value in weights.items()), else_=1)
    return (
        select(
            Case.mediator_id.label("staff_id"),
            func.count().label("open_cases"),
            func.sum(weight).label("load"),
        )
        .where(Case.mediator_id.is_not(None), Case.status.in_([str(s) for s in OPEN]))
        .group_by(Case.mediator_id)
        .subquery("load")
    )


async def candidates(
    db: AsyncSession, case: Case, weights: Mapping[str, int], language: str
) -> list[Candidate]:
    """Matching mediators with their load, in one statement."""
    load = load_query(weights)
    query = (
        select(
            StaffUser.id,
            StaffUser.display_name,
            StaffUser.org_id,
            func.coalesce(load.c.open_cases, 0),
            func.coalesce(load.c.load, 0),
        )
        .join(Organization, Organization.id == StaffUser.org_id)
        .join(BookingProfile, BookingProfile.staff_id == StaffUser.id)
        .outerjoin(load, load.c.staff_id == StaffUser.id)
        .where(
            StaffUser.role == "mediator",
            StaffUser.active.is_(True),
            StaffUser.org_id.in_(subtree_query(case.org_id)),
            Organization.tier == case.tier,
            json_has(db, BookingProfile.specialties, case.dispute_type),
        )
    )
    if language:
        query = query.where(json_has(db, BookingProfile.languages, language))
    rows = (await db.execute(query)).all()
    return [Candidate(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def pick(found: list[Candidate], preferred_id: int | None) -> Choice | None:
    if not found:
        return None
    for person in found:
        if person.staff_id == preferred_id and person.next_free is not None:
            return Choice(person, True, len(found))
    best = min(
        found,
        key=lambda p: (
            p.next_free is None,
            p.load,
            p.open_cases,
            p.next_free.timestamp() if p.next_free else 0,
            p.staff_id,
        ),
    )
    return Choice(best, False, len(found))


async def choose(
    db: AsyncSession, settings: Settings, case: Case, language: str, now: datetime
) -> Choice | None:
    found = await candidates(db, case, settings.load_weights, language)
    free = await earliest_each(
        db,
        [p.staff_id for p in found],
        start=now,
        end=now + timedelta(days=settings.roster_days),
        minutes=DEFAULT_MINUTES,
        now=now,
    )
    found = [
        Candidate(p.staff_id, p.name, p.org_id, p.open_cases, p.load, free.get(p.staff_id))
        for p in found
    ]
    return pick(found, case.preferred_mediator_id)


def reason(choice: Choice, case: Case, language: str) -> dict[str, Any]:
    """What the timeline and the case page say about why this person was chosen."""
    chosen = choice.chosen
    return {
        "staff_id": chosen.staff_id,
        "name": chosen.name,
        "specialty": case.dispute_type,
        "language": language or None,
        "open_cases": chosen.open_cases,
        "load": chosen.load,
        "next_free": chosen.next_free.isoformat() if chosen.next_free else None,
        "preferred": choice.preferred,
        "considered": choice.considered,
    }


async def assign(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case_id: int,
    data: dict[str, str],
    now: datetime,
) -> Case:
    """Validate, choose, dispatch to the chosen mediator, and say why in the timeline."""
    case = await load_case(db, principal, case_id)
    await require(db, principal, Action.DISPATCH, case)
    language = data.get("language", "").strip()
    if len(language) > FILTER_MAX:
        raise ValidationFailed({"language": LANGUAGE_TOO_LONG})
    if case.status != CaseStatus.REGISTERED:
        raise Conflict(NOT_REGISTERED)
    choice = await choose(db, settings, case, language, now)
    if choice is None:
        raise Conflict(NOBODY)
    person = await db.get(StaffUser, choice.chosen.staff_id)
    org = await db.get(Organization, choice.chosen.org_id)
    assert person is not None and org is not None
    note = data.get("note", "").strip()[:500]
    await do_dispatch(
        db, settings, principal, DispatchPlan(case, org, person, note), now=now, only_from=ONCE
    )
    data = reason(choice, case, language)
    await record_event(db, case.id, "auto_assigned", principal.key, data, public=False)
    return case
