"""Dispatch and acceptance (派单 → 接单), reassignment, escalation and the case team.

A case is always owned by exactly one organisation, `cases.org_id`: a dispatch moves it to the
receiving organisation, a declined or expired dispatch moves it back to the dispatcher's, and an
escalation to the parent organisation. Every dispatch is a `dispatches` row answered once: the
answer is a conditional UPDATE on `answer IS NULL`, taken after the case's row lock, so of a
receiver accepting, another declining and the expiry job, exactly one happens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.alarms import raise_alarm
from app.auth import Principal
from app.db import insert_if_missing, lock_row, utcnow
from app.deadlines import acknowledge_hours
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.forms import parse_id
from app.i18n import N_
from app.jobs import enqueue
from app.lifecycle import CHANGED_MEANWHILE, CaseStatus, advance
from app.models import Alarm, Case, CaseStaff, Organization, StaffUser
from app.policy import Action, can, can_view_case, load_case, may, org_subtree, require
from app.services import record_event
from app.settings import Settings
from booking.models import Dispatch
from booking.services import cancel_all
from booking.triage import check_text

DISPATCHABLE = (CaseStatus.REGISTERED, CaseStatus.DISPATCHED, CaseStatus.ACCEPTED)
# A scheduled case escalates too: its appointments with this tier's people are cancelled.
ESCALATABLE = (*DISPATCHABLE, CaseStatus.SCHEDULED)
TEAM_ROLES = ("expert", "mediator", "lawyer", "observer")
TEAM_MEMBER_ROLES = ("mediator", "expert")  # staff roles that can join a case's team
RECEIVER_ROLES = ("mediator",)  # a dispatch to a person goes to a mediator
NO_PENDING = N_("This case has no dispatch waiting for an answer.")
ANSWERED = N_("This dispatch was already answered.")
OUTSIDE = N_("You may only dispatch to your organisation or one below it.")


@dataclass(frozen=True)
class DispatchPlan:
    case: Case
    to_org: Organization
    to_staff: StaffUser | None
    note: str


def staff_id_of(actor: str) -> int | None:
    """The staff id in an actor key such as `staff:3`."""
    kind, _, ident = actor.partition(":")
    return int(ident) if kind == "staff" and ident.isdigit() else None


async def check_dispatch(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str]
) -> DispatchPlan:
    case = await load_case(db, principal, case_id)
    await require(db, principal, Action.DISPATCH, case)
    if case.status not in DISPATCHABLE:
        raise Conflict("This case cannot be dispatched in its present state.")
    assert principal.org_id is not None  # staff always belong to an organisation
    errors: dict[str, str] = {}
    note = check_text(data, "note", errors, required=False)
    subtree = await org_subtree(db, principal.org_id)
    to_staff, to_org = await _target(db, data, subtree, errors)
    if errors:
        raise ValidationFailed(errors)
    assert to_org is not None
    return DispatchPlan(case, to_org, to_staff, note)


async def _target(
    db: AsyncSession, data: dict[str, str], subtree: set[int], errors: dict[str, str]
) -> tuple[StaffUser | None, Organization | None]:
    """The receiving mediator (if any) and organisation, both inside the dispatcher's subtree."""
    raw_staff, raw_org = data.get("to_staff_id", ""), data.get("to_org_id", "")
    staff_id, org_id = parse_id(raw_staff), parse_id(raw_org)
    if raw_staff:
        person = await db.get(StaffUser, staff_id) if staff_id else None
        if (
            person is None
            or not person.active
            or person.role not in RECEIVER_ROLES
            or person.org_id not in subtree
        ):
            errors["to_staff_id"] = N_("Please choose a mediator of your organisation or below.")
            return None, None
        if raw_org and org_id != person.org_id:
            errors["to_org_id"] = N_("The mediator does not belong to this organisation.")
        return person, await db.get(Organization, person.org_id)
    org = await db.get(Organization, org_id) if org_id else None
    if org is None or org.kind != "mediation" or org.id not in subtree:
        errors["to_org_id"] = OUTSIDE
        return None, None
    return None, org


async def _withdraw_pending(db: AsyncSession, case_id: int, actor: str, now: datetime) -> None:
    await db.execute(
        update(Dispatch)
        .where(Dispatch.case_id == case_id, Dispatch.answer.is_(None))
        .values(answer="withdrawn", answered_at=now, answered_by=actor)
        .execution_options(synchronize_session=False)
    )


async def do_dispatch(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    plan: DispatchPlan,
    *,
    now: datetime | None = None,
    only_from: tuple[CaseStatus, ...] = DISPATCHABLE,
) -> Dispatch:
    """派单 (or reassignment): a pending dispatch to another receiver is withdrawn.
    `only_from` narrows the states it may start from (auto-assignment: registered only)."""
    case, now = plan.case, now or utcnow()
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status not in only_from:
        raise Conflict("This case cannot be dispatched in its present state.")
    assert principal.org_id is not None
    await _withdraw_pending(db, case.id, principal.key, now)
    dispatch = Dispatch(
        case_id=case.id,
        from_org_id=principal.org_id,
        to_org_id=plan.to_org.id,
        to_staff_id=plan.to_staff.id if plan.to_staff else None,
        by=principal.key,
        at=now,
        ack_due_at=now + timedelta(hours=await acknowledge_hours(db, settings)),
        reason=plan.note,
    )
    db.add(dispatch)
    await db.flush()
    await advance(
        db,
        case,
        CaseStatus.DISPATCHED,
        principal.key,
        "dispatched",
        {
            "dispatch_id": dispatch.id,
            "to_org": plan.to_org.name,
            "to_staff": plan.to_staff.display_name if plan.to_staff else None,
            "note": plan.note,
        },
        org_id=plan.to_org.id,
        tier=plan.to_org.tier,
        mediator_id=dispatch.to_staff_id,
    )
    await _alarm_receiver(db, case, dispatch)
    await enqueue(
        db, "dispatch_expiry", {"dispatch_id": dispatch.id}, delay=dispatch.ack_due_at - utcnow()
    )
    return dispatch


async def _alarm_receiver(db: AsyncSession, case: Case, dispatch: Dispatch) -> None:
    await raise_alarm(
        db,
        f"dispatch:{dispatch.id}",
        "dispatched",
        org_id=dispatch.to_org_id,
        staff_id=dispatch.to_staff_id,
        case_id=case.id,
        level="info",
        data={"number": case.number, "ack_due_at": dispatch.ack_due_at.isoformat()},
    )


async def pending_dispatch(db: AsyncSession, case_id: int) -> Dispatch | None:
    latest = await latest_dispatch(db, case_id)
    return latest if latest is not None and latest.answer is None else None


async def latest_dispatch(db: AsyncSession, case_id: int) -> Dispatch | None:
    # A case has at most one unanswered dispatch, and it is the latest: a new dispatch
    # withdraws the pending one under the case's row lock.
    return await db.scalar(
        select(Dispatch).where(Dispatch.case_id == case_id).order_by(Dispatch.id.desc()).limit(1)
    )


def is_receiver(principal: Principal, dispatch: Dispatch) -> bool:
    """The addressed mediator, or (for a dispatch to an organisation) its staff who may accept."""
    if not may(principal, Action.ACCEPT):
        return False
    if dispatch.to_staff_id is not None:
        return dispatch.to_staff_id == principal.staff_id
    return dispatch.to_org_id == principal.org_id


async def check_answer(
    db: AsyncSession, principal: Principal, case_id: int
) -> tuple[Case, Dispatch]:
    """The case and its pending dispatch, if the principal is its receiver. Receivers of a
    dispatch to their organisation may not see the case yet, so this does not use load_case;
    a receiver whose dispatch was answered meanwhile (by a colleague, or expired) gets 409."""
    principal.require_staff()
    case = await db.get(Case, case_id)
    latest = await latest_dispatch(db, case_id) if case else None
    if case is None or latest is None or not is_receiver(principal, latest):
        if case is not None and await can_view_case(db, principal, case):
            if latest is None or latest.answer is not None:
                raise Conflict(NO_PENDING)
            raise PermissionDenied(N_("Only the receiver of the dispatch may answer it."))
        raise NotFound("This case does not exist or you may not see it.")
    if latest.answer is not None:
        raise Conflict(ANSWERED)
    return case, latest


async def _answer(
    db: AsyncSession, case: Case, dispatch: Dispatch, answer: str, actor: str, now: datetime
) -> None:
    """Records the dispatch's one answer; Conflict if another answer came first. The case's
    row lock is taken first (lock order: the case row, then what hangs under it)."""
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    condition = [Dispatch.id == dispatch.id, Dispatch.answer.is_(None)]
    if answer == "expired":
        condition.append(Dispatch.ack_due_at <= now)
    changed = await db.execute(
        update(Dispatch)
        .where(*condition)
        .values(answer=answer, answered_at=now, answered_by=actor)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(ANSWERED)
    # The receiver's "dispatched to you" alarm is settled by the answer.
    await db.execute(
        update(Alarm)
        .where(Alarm.key == f"dispatch:{dispatch.id}", Alarm.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=actor)
    )


async def do_accept(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    dispatch: Dispatch,
    *,
    now: datetime | None = None,
) -> Case:
    """接单: a mediator who accepts handles the case; a coordinator accepts for the office."""
    await _answer(db, case, dispatch, "accepted", principal.key, now or utcnow())
    mediator_id = principal.staff_id if principal.role == "mediator" else case.mediator_id
    await advance(
        db,
        case,
        CaseStatus.ACCEPTED,
        principal.key,
        "dispatch_accepted",
        {"dispatch_id": dispatch.id, "by": principal.name},
        mediator_id=mediator_id,
    )
    return case


async def do_decline(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    dispatch: Dispatch,
    reason: str,
    *,
    now: datetime | None = None,
) -> Case:
    """退单 with a reason: the case returns to the dispatcher's organisation, with an alarm."""
    await _answer(db, case, dispatch, "declined", principal.key, now or utcnow())
    await _return(db, case, dispatch, principal.key, "dispatch_declined", reason)
    return case


async def expire_dispatch(
    db: AsyncSession, dispatch_id: int, *, now: datetime | None = None
) -> bool:
    """An unacknowledged dispatch returns to the dispatcher with an alarm, once: the delayed job
    and the sweep may both try; the conditional answer lets one through. True if this did it."""
    dispatch = await db.get(Dispatch, dispatch_id)
    case = await db.get(Case, dispatch.case_id) if dispatch else None
    if dispatch is None or case is None or dispatch.answer is not None:
        return False
    try:
        await _answer(db, case, dispatch, "expired", "system", now or utcnow())
    except Conflict:
        return False
    await _return(db, case, dispatch, "system", "dispatch_expired", "")
    return True


async def _return(
    db: AsyncSession, case: Case, dispatch: Dispatch, actor: str, kind: str, reason: str
) -> None:
    origin = await db.get(Organization, dispatch.from_org_id)
    assert origin is not None
    await advance(
        db,
        case,
        CaseStatus.REGISTERED,
        actor,
        kind,
        {"dispatch_id": dispatch.id, "reason": reason, "back_to": origin.name},
        org_id=origin.id,
        tier=origin.tier,
        mediator_id=None,
    )
    await raise_alarm(
        db,
        f"{kind}:{dispatch.id}",
        kind,
        org_id=origin.id,
        staff_id=staff_id_of(dispatch.by),
        case_id=case.id,
        level="warning",
        data={"number": case.number, "reason": reason},
    )


async def check_escalation(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str]
) -> tuple[Case, Organization, str]:
    """Escalation to the tier above: by the case's coordinators or its own mediator."""
    case = await load_case(db, principal, case_id)
    if not (
        await can(db, principal, Action.DISPATCH, case)
        or (principal.role == "mediator" and case.mediator_id == principal.staff_id)
    ):
        raise PermissionDenied("You are not allowed to do this.")
    if case.status not in ESCALATABLE:
        raise Conflict("This case cannot be escalated in its present state.")
    org = await db.get(Organization, case.org_id)
    parent = await db.get(Organization, org.parent_id) if org and org.parent_id else None
    if parent is None:
        raise Conflict("This case is already at the top tier.")
    errors: dict[str, str] = {}
    reason = check_text(data, "reason", errors)
    if errors:
        raise ValidationFailed(errors)
    return case, parent, reason


async def do_escalate(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    parent: Organization,
    reason: str,
    *,
    now: datetime | None = None,
) -> Case:
    """上交: the parent organisation owns the case now, registered and waiting for dispatch."""
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    org = await db.get(Organization, case.org_id)
    if case.status not in ESCALATABLE or org is None or org.parent_id != parent.id:
        raise Conflict(CHANGED_MEANWHILE)
    await _withdraw_pending(db, case.id, principal.key, now or utcnow())
    await cancel_all(db, case, principal.key)
    from_org = case.org_id
    await advance(
        db,
        case,
        CaseStatus.REGISTERED,
        principal.key,
        "escalated",
        {"from_org_id": from_org, "to_org": parent.name, "reason": reason},
        org_id=parent.id,
        tier=parent.tier,
        mediator_id=None,
    )
    await raise_alarm(
        db,
        f"escalated:{case.id}:{from_org}:{parent.id}:{(now or utcnow()).timestamp():.0f}",
        "escalated",
        org_id=parent.id,
        case_id=case.id,
        level="warning",
        data={"number": case.number, "reason": reason},
    )
    return case


async def check_team_member(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str]
) -> tuple[Case, StaffUser, str]:
    case = await load_case(db, principal, case_id)
    await require(db, principal, Action.DISPATCH, case)
    assert principal.org_id is not None
    errors: dict[str, str] = {}
    staff_id = parse_id(data.get("staff_id"))
    person = await db.get(StaffUser, staff_id) if staff_id else None
    # Experts sit in the expert library of the district (above a town's coordinator), so the
    # organisations above the coordinator's count as well as those below it.
    reachable = await org_subtree(db, principal.org_id) | await _ancestors(db, principal.org_id)
    if (
        person is None
        or not person.active
        or person.role not in TEAM_MEMBER_ROLES
        or person.org_id not in reachable
    ):
        errors["staff_id"] = N_("Please choose a mediator or expert.")
    if data.get("role") not in TEAM_ROLES:
        errors["role"] = N_("Please choose the role in the team.")
    if errors:
        raise ValidationFailed(errors)
    assert person is not None
    return case, person, data["role"]


async def _ancestors(db: AsyncSession, org_id: int) -> set[int]:
    found: set[int] = set()
    org = await db.get(Organization, org_id)
    while org is not None and org.parent_id is not None and org.parent_id not in found:
        found.add(org.parent_id)
        org = await db.get(Organization, org.parent_id)
    return found


async def do_add_to_team(
    db: AsyncSession, principal: Principal, case: Case, person: StaffUser, role: str
) -> None:
    """The person sees the case and enters its room; adding someone twice changes nothing."""
    await lock_row(db, Case, case.id)
    await insert_if_missing(
        db,
        CaseStaff,
        case_id=case.id,
        staff_id=person.id,
        role=role,
        added_by=principal.key,
        added_at=utcnow(),
    )
    await record_event(
        db,
        case.id,
        "team_added",
        principal.key,
        {"staff_id": person.id, "name": person.display_name, "role": role},
        public=False,
    )


async def team_candidates(db: AsyncSession, principal: Principal) -> list[StaffUser]:
    """Mediators and experts the principal may add to a team (their subtree and above)."""
    assert principal.org_id is not None
    reachable = await org_subtree(db, principal.org_id) | await _ancestors(db, principal.org_id)
    rows = await db.scalars(
        select(StaffUser)
        .where(
            StaffUser.org_id.in_(reachable),
            StaffUser.role.in_(TEAM_MEMBER_ROLES),
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.role, StaffUser.display_name)
    )
    return list(rows)
