"""Booking use cases: who can be booked, booking (one person or a panel), rescheduling,
cancelling, no-shows, reissuing invitation links.

`check_*` validates and authorises (typed errors, nothing written); `do_*` writes in the caller's
transaction. A booking runs a handful of statements: its links, SMS, emails and reminders are
made by the outbox job it queues (booking/invitations.py), after commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit import holds_case_lock
from app.auth import Principal
from app.db import dialect_of, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_
from app.jobs import enqueue_all
from app.lifecycle import CaseStatus, advance, move, write_move_event
from app.models import Case, CaseStaff, Organization, Party, StaffUser
from app.policy import (
    NOT_ALLOWED,
    Action,
    load_case,
    may,
    require,
    require_case_staff,
    subtree_query,
)
from app.revocation import Revoked
from app.services import parties_of, record_event
from app.settings import Settings
from booking import day_load, invitations
from booking.forms import BAD_MINUTES
from booking.invitations import Invitation
from booking.models import Appointment, AppointmentMember, BookingProfile, SlotClaim
from booking.placement import Placement, place
from booking.search import PROFILE_COLUMNS, ProfileRow, examine, profile_of
from booking.slots import CELL, CELL_MINUTES, cell_count, is_aligned, valid_length

BOOKABLE_ROLES = ("mediator", "expert")
SCHEDULABLE = (CaseStatus.REGISTERED, CaseStatus.ACCEPTED, CaseStatus.SCHEDULED)
TAKEN = N_("This time is already taken. Please choose another slot.")
NO_SUCH_MEDIATOR = N_("This mediator does not exist or you may not book them.")
NO_SUCH_APPOINTMENT = N_("This appointment does not exist.")
NOT_BOOKED = N_("This appointment is already cancelled.")
UNAVAILABLE = N_("The mediator is not available at this time.")
DAY_FULL = day_load.DAY_FULL
PAST = N_("This time is in the past. Please choose a future time.")
MISALIGNED = N_("Appointments start on the hour or on the half hour.")
TOO_LATE = N_("It is too late to change this appointment online. Please call the mediation centre.")
MAX_EXPERTS = 5
REMINDER_LEADS = (timedelta(hours=24), timedelta(hours=1))
_WHY = {"past": PAST, "unavailable": UNAVAILABLE, "full": DAY_FULL}


@dataclass(frozen=True)
class Member:
    staff_id: int
    name: str
    role: str  # mediator | expert (their part in this appointment)


@dataclass(frozen=True)
class BookingPlan:
    case: Case
    members: tuple[Member, ...]  # the mediator first, then the panel's experts
    starts_at: datetime
    minutes: int
    people: Mapping[int, day_load.Profile]  # time zones and buffers, read by the check

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)

    @property
    def mediator(self) -> Member:
        return self.members[0]


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    members: tuple[Member, ...]


@dataclass(frozen=True)
class Listed:
    appointment: Appointment
    mediator: StaffUser


async def bookable_staff(db: AsyncSession, principal: Principal) -> list[StaffUser]:
    """Active mediators and experts of the principal's organisation and those below it."""
    if principal.org_id is None:
        return []
    rows = await db.scalars(
        select(StaffUser)
        .where(
            StaffUser.org_id.in_(subtree_query(principal.org_id)),
            StaffUser.role.in_(BOOKABLE_ROLES),
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.role.desc(), StaffUser.display_name, StaffUser.id)
    )
    return list(rows)


async def bookable_ids(db: AsyncSession, principal: Principal, wanted: Sequence[int]) -> set[int]:
    """Which of `wanted` the principal may book, in one statement."""
    if principal.org_id is None or not wanted:
        return set()
    rows = await db.scalars(
        select(StaffUser.id).where(
            StaffUser.id.in_(wanted),
            StaffUser.org_id.in_(subtree_query(principal.org_id)),
            StaffUser.role.in_(BOOKABLE_ROLES),
            StaffUser.active.is_(True),
        )
    )
    return set(rows)


async def bookable_ids_all(db: AsyncSession, principal: Principal) -> set[int]:
    """Every active mediator and expert of the principal's organisation and below, by id."""
    if principal.org_id is None:
        return set()
    rows = await db.scalars(
        select(StaffUser.id).where(
            StaffUser.org_id.in_(subtree_query(principal.org_id)),
            StaffUser.role.in_(BOOKABLE_ROLES),
            StaffUser.active.is_(True),
        )
    )
    return set(rows)


async def load_bookable(db: AsyncSession, principal: Principal, staff_id: int) -> StaffUser:
    person = await db.get(StaffUser, staff_id)
    if person is None or staff_id not in await bookable_ids(db, principal, [staff_id]):
        raise NotFound(NO_SUCH_MEDIATOR)
    return person


_BOOKABLE = (
    select(StaffUser.id, StaffUser.display_name, *PROFILE_COLUMNS)
    .outerjoin(BookingProfile, BookingProfile.staff_id == StaffUser.id)
    .where(
        StaffUser.id.in_(bindparam("ids", expanding=True)),
        StaffUser.org_id.in_(subtree_query(bindparam("org_id"))),
        StaffUser.role.in_(BOOKABLE_ROLES),
        StaffUser.active.is_(True),
    )
)


async def _members(
    db: AsyncSession, principal: Principal, mediator_id: int, expert_ids: Sequence[int]
) -> tuple[tuple[Member, ...], dict[int, ProfileRow | None]]:
    """The people to book, if the principal may book them, with their booking profiles (the
    slot check then need not read them)."""
    wanted = [mediator_id, *dict.fromkeys(e for e in expert_ids if e != mediator_id)]
    if len(wanted) > MAX_EXPERTS + 1:
        raise ValidationFailed({"expert_ids": N_("A panel has at most five experts.")})
    values = {"ids": wanted, "org_id": principal.org_id or 0}
    conn = await db.connection()  # Core rows, no ORM execution: a booking's hot path
    rows = {row[0]: row for row in await conn.execute(_BOOKABLE, values)}
    if set(wanted) - set(rows):
        raise NotFound(NO_SUCH_MEDIATOR)
    members = tuple(
        Member(staff_id, rows[staff_id][1], "mediator" if i == 0 else "expert")
        for i, staff_id in enumerate(wanted)
    )
    return members, {staff_id: profile_of(*row[2:]) for staff_id, row in rows.items()}


def check_time(starts_at: datetime, minutes: int, now: datetime) -> None:
    errors: dict[str, str] = {}
    if not valid_length(minutes):
        errors["minutes"] = BAD_MINUTES
    if not is_aligned(starts_at):
        errors["starts_at"] = MISALIGNED
    elif starts_at <= now:
        errors["starts_at"] = PAST
    if errors:
        raise ValidationFailed(errors)


async def check_free(
    db: AsyncSession,
    staff_ids: Sequence[int],
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime,
    moving: int | None = None,
    profiles: Mapping[int, ProfileRow | None] | None = None,
) -> dict[int, day_load.Profile]:
    """Refuses a slot the people cannot take; their time zones and buffers when they can."""
    reason, people = await examine(
        db, staff_ids, starts_at, minutes, now=now, ignore=moving, profiles=profiles
    )
    if reason == "taken":
        raise Conflict(TAKEN)
    if reason is not None:
        raise ValidationFailed({"starts_at": _WHY[reason]})
    return {
        staff_id: day_load.Profile(person.timezone, person.buffer * CELL_MINUTES)
        for staff_id, person in people.items()
    }


async def check_booking(
    db: AsyncSession,
    principal: Principal,
    case_id: int,
    mediator_id: int,
    starts_at: datetime,
    minutes: int,
    *,
    expert_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> BookingPlan:
    now = now or utcnow()
    principal.require_staff("coordinator")
    case = await load_case(db, principal, case_id)
    if not may(principal, Action.BOOK):  # load_case has checked that they see the case
        raise PermissionDenied(NOT_ALLOWED)
    if case.status == "applied":
        raise Conflict("Please register the case before booking an appointment.")
    if case.status not in SCHEDULABLE:
        raise Conflict("This case can no longer be scheduled.")
    members, profiles = await _members(db, principal, mediator_id, expert_ids)
    check_time(starts_at, minutes, now)
    staff_ids = [m.staff_id for m in members]
    people = await check_free(db, staff_ids, starts_at, minutes, now=now, profiles=profiles)
    return BookingPlan(case, members, starts_at, minutes, people)


async def _claim(
    db: AsyncSession, appointment_id: int, staff_ids: Sequence[int], starts_at: datetime, cells: int
) -> None:
    """Claims `cells` cells from `starts_at` for every person, in one statement. The unique
    (staff_id, cell_start) key is the only guard that holds under concurrency: a check-then-
    insert in Python let 14 of 50 concurrent bookings through on SQLite. Raises Conflict."""
    rows = [
        {"staff_id": staff_id, "cell_start": starts_at + CELL * i, "appointment_id": appointment_id}
        for staff_id in staff_ids
        for i in range(cells)
    ]
    try:
        await db.execute(insert(SlotClaim), rows)
    except IntegrityError as exc:
        raise Conflict(TAKEN) from exc


def _claim_cells(people: Mapping[int, day_load.Profile], minutes: int) -> int:
    """The appointment's cells plus the longest buffer among its people (claimed too, so two
    sessions of one person never touch, however concurrent their bookings)."""
    buffer = max((p.buffer_minutes for p in people.values()), default=0)
    return cell_count(minutes) + cell_count(buffer)


async def member_ids(db: AsyncSession, appointment_id: int) -> list[int]:
    rows = await db.scalars(
        select(AppointmentMember.staff_id).where(AppointmentMember.appointment_id == appointment_id)
    )
    return list(rows)


async def _lock_case(db: AsyncSession, case: Case) -> None:
    # The case row first (as everywhere): a cancellation or a status change that committed
    # meanwhile is seen here, and concurrent bookings of one case queue. A no-op UPDATE locks
    # the row on both databases (and takes SQLite's write lock); RETURNING re-reads the status
    # in the same statement.
    status = await db.scalar(
        update(Case)
        .where(Case.id == case.id)
        .values(id=Case.id)
        .returning(Case.status)
        .execution_options(synchronize_session=False)
    )
    holds_case_lock(db.sync_session, case.id)
    set_committed_value(case, "status", status)


async def queue_notices(db: AsyncSession, appointment: Appointment, change: str) -> None:
    """The invitations (links, SMS, emails with the ICS file) and the reminders, made by jobs
    after commit. Reminders carry the sequence they were queued for: a moved or cancelled
    appointment has another, and the reminder is dropped when it runs."""
    payload = {"appointment_id": appointment.id, "sequence": appointment.sequence}
    jobs: list[tuple[str, dict[str, Any], timedelta | None]] = [
        ("appointment_notice", {**payload, "change": change}, None)
    ]
    for lead in REMINDER_LEADS if appointment.status == "booked" else ():
        delay = appointment.starts_at - lead - utcnow()
        if delay > timedelta():
            hours = int(lead.total_seconds() // 3600)
            jobs.append(("appointment_reminder", {**payload, "hours": hours}, delay))
    await enqueue_all(db, jobs)


async def _schedule(db: AsyncSession, plan: BookingPlan) -> str:
    """The booking's first write: the case row, moved to "scheduled" (an UPDATE even when it
    already reads so, which locks the row and, on SQLite, takes the write lock before any other
    write). From the status the check read; when another transaction changed it meanwhile (a
    concurrent booking, a cancellation), the row is locked, re-read and moved from there if the
    case is still schedulable. Returns the status it left."""
    mediator = plan.mediator.staff_id
    try:
        return await move(db, plan.case, CaseStatus.SCHEDULED, mediator_id=mediator)
    except Conflict:
        await _lock_case(db, plan.case)
        if plan.case.status not in SCHEDULABLE:
            raise Conflict("This case can no longer be scheduled.") from None
        return await move(db, plan.case, CaseStatus.SCHEDULED, mediator_id=mediator)


async def do_book(
    db: AsyncSession, settings: Settings, principal: Principal, plan: BookingPlan
) -> Booked:
    source = await _schedule(db, plan)
    placing = Placement(
        case_id=plan.case.id,
        staff_id=plan.mediator.staff_id,
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        created_by=principal.key,
        members=[(m.staff_id, m.role) for m in plan.members],
        cells=_claim_cells(plan.people, plan.minutes),
        days=day_load.days_of(plan.people, plan.starts_at),
    )
    appointment = await place(db, placing, TAKEN)
    await _join_team(db, plan.case, plan.members, principal)
    await write_move_event(
        db,
        plan.case,
        source,
        CaseStatus.SCHEDULED,
        principal.key,
        "booked",
        {
            "appointment_id": appointment.id,
            "starts_at": plan.starts_at.isoformat(),
            "minutes": plan.minutes,
            "mediator": plan.mediator.name,
            "experts": [m.name for m in plan.members[1:]],
        },
    )
    await queue_notices(db, appointment, "booked")
    return Booked(appointment, plan.members)


async def _join_team(
    db: AsyncSession, case: Case, members: Sequence[Member], principal: Principal
) -> None:
    """A panel's experts join the case team (they see the case and enter its room): one
    statement for the whole panel; one already on the team stays as they were."""
    rows = [
        {
            "case_id": case.id,
            "staff_id": member.staff_id,
            "role": "expert",
            "added_by": principal.key,
            "added_at": utcnow(),
        }
        for member in members
        if member.role == "expert"
    ]
    if rows:
        insert_rows = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
        await db.execute(insert_rows(CaseStaff).values(rows).on_conflict_do_nothing())


async def appointments_of(db: AsyncSession, case_id: int) -> list[Listed]:
    rows = await db.execute(
        select(Appointment, StaffUser)
        .join(StaffUser, StaffUser.id == Appointment.staff_id)
        .where(Appointment.case_id == case_id)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [Listed(appointment, person) for appointment, person in rows]


async def members_of(db: AsyncSession, appointment_id: int) -> tuple[Member, ...]:
    rows = await db.execute(
        select(AppointmentMember.staff_id, StaffUser.display_name, AppointmentMember.role)
        .join(StaffUser, StaffUser.id == AppointmentMember.staff_id)
        .where(AppointmentMember.appointment_id == appointment_id)
        .order_by(AppointmentMember.role.desc(), AppointmentMember.staff_id)
    )
    return tuple(Member(*row) for row in rows)


# --- changing an appointment: staff, or the party from their link ---------------------------


async def check_change(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case_id: int,
    appointment_id: int,
    *,
    now: datetime | None = None,
) -> tuple[Case, Appointment]:
    """The appointment, if this principal may move or cancel it now: staff who book for the
    case, or one of its parties up to `party_cancel_notice_hours` before it starts."""
    now = now or utcnow()
    case = await load_case(db, principal, case_id)
    appointment = await db.get(Appointment, appointment_id)
    if appointment is None or appointment.case_id != case.id:
        raise NotFound(NO_SUCH_APPOINTMENT)
    await require(db, principal, Action.RESCHEDULE, case)
    if appointment.status != "booked":
        raise Conflict(NOT_BOOKED)
    notice = timedelta(hours=settings.party_cancel_notice_hours)
    if principal.kind == "party" and appointment.starts_at - now < notice:
        raise PermissionDenied(TOO_LATE)
    return case, appointment


async def _set_status(
    db: AsyncSession, appointment: Appointment, status: str, actor: str, **values: object
) -> None:
    # Conditional update: of two concurrent changes only one finds it still booked at the
    # sequence it was read with.
    changed = await db.execute(
        update(Appointment)
        .where(
            Appointment.id == appointment.id,
            Appointment.status == "booked",
            Appointment.sequence == appointment.sequence,
        )
        .values(
            status=status,
            sequence=appointment.sequence + 1,
            changed_at=utcnow(),
            changed_by=actor,
            **values,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("Someone else changed this appointment meanwhile. Please reload."))
    await db.refresh(appointment)


async def do_cancel(
    db: AsyncSession, principal: Principal, case: Case, appointment: Appointment
) -> None:
    # The case row's lock first: whether any appointment remains is then decided after every
    # concurrent booking of the case has committed or waits for us.
    await _lock_case(db, case)
    await _set_status(db, appointment, "cancelled", principal.key)
    await db.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))
    people = await day_load.profiles(db, await member_ids(db, appointment.id))
    await day_load.give_back(db, day_load.days_of(people, appointment.starts_at))
    remaining = await db.scalar(
        select(Appointment.id).where(Appointment.case_id == case.id, Appointment.status == "booked")
    )
    if remaining is None and case.status == CaseStatus.SCHEDULED:
        await advance(db, case, CaseStatus.ACCEPTED, principal.key, "unscheduled", public=False)
    await record_event(
        db,
        case.id,
        "appointment_cancelled",
        principal.key,
        {"appointment_id": appointment.id, "starts_at": appointment.starts_at.isoformat()},
    )
    await queue_notices(db, appointment, "cancelled")


async def check_reschedule(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case_id: int,
    appointment_id: int,
    starts_at: datetime,
    *,
    now: datetime | None = None,
) -> tuple[Case, Appointment]:
    now = now or utcnow()
    case, appointment = await check_change(
        db, settings, principal, case_id, appointment_id, now=now
    )
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    check_time(starts_at, minutes, now)
    if principal.kind == "party" and starts_at - now < timedelta(
        hours=settings.party_cancel_notice_hours
    ):
        raise ValidationFailed({"starts_at": TOO_LATE})
    members = await members_of(db, appointment.id)
    staff_ids = [m.staff_id for m in members]
    await check_free(db, staff_ids, starts_at, minutes, now=now, moving=appointment.id)
    return case, appointment


async def do_reschedule(
    db: AsyncSession,
    principal: Principal,
    case: Case,
    appointment: Appointment,
    starts_at: datetime,
) -> None:
    """Moves the appointment with all its members, in one transaction: if the new cells are
    taken the whole transaction rolls back and the old booking stands as it was."""
    await _lock_case(db, case)
    old = appointment.starts_at
    length = appointment.ends_at - appointment.starts_at
    minutes = int(length.total_seconds() // 60)
    staff_ids = await member_ids(db, appointment.id)
    people = await day_load.profiles(db, staff_ids)
    await _set_status(
        db, appointment, "booked", principal.key, starts_at=starts_at, ends_at=starts_at + length
    )
    await db.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))
    await _claim(db, appointment.id, staff_ids, starts_at, _claim_cells(people, minutes))
    before, after = day_load.days_of(people, old), day_load.days_of(people, starts_at)
    if before != after:
        await day_load.give_back(db, before)
        await day_load.take(db, after)
    await record_event(
        db,
        case.id,
        "appointment_moved",
        principal.key,
        {"appointment_id": appointment.id, "from": old.isoformat(), "to": starts_at.isoformat()},
    )
    await queue_notices(db, appointment, "moved")


async def check_no_show(
    db: AsyncSession, principal: Principal, case_id: int, appointment_id: int
) -> tuple[Case, Appointment]:
    case = await load_case(db, principal, case_id)
    appointment = await db.get(Appointment, appointment_id)
    if appointment is None or appointment.case_id != case.id:
        raise NotFound(NO_SUCH_APPOINTMENT)
    await require(db, principal, Action.ATTENDANCE, case)
    if appointment.status != "booked":
        raise Conflict(NOT_BOOKED)
    if appointment.starts_at > utcnow():
        raise Conflict(N_("An appointment can be marked as missed only once it has begun."))
    return case, appointment


async def do_no_show(
    db: AsyncSession, principal: Principal, case: Case, appointment: Appointment
) -> None:
    """The time was held, so its claims stay."""
    await _set_status(db, appointment, "no_show", principal.key)
    await record_event(
        db, case.id, "appointment_missed", principal.key, {"appointment_id": appointment.id}
    )


# --- invitation links ------------------------------------------------------------------------


async def organizations_of(db: AsyncSession, staff: list[StaffUser]) -> dict[int, Organization]:
    ids = {person.org_id for person in staff}
    rows = await db.scalars(select(Organization).where(Organization.id.in_(ids)))
    return {org.id: org for org in rows}


async def check_reissue(
    db: AsyncSession, principal: Principal, case_id: int, party_id: int | None
) -> tuple[Case, list[Party]]:
    case = await load_case(db, principal, case_id)
    require_case_staff(principal, case)
    parties = await parties_of(db, case.id)
    if party_id is not None:
        parties = [party for party in parties if party.id == party_id]
        if not parties:
            raise NotFound("This party does not belong to the case.")
    return case, parties


async def do_reissue(
    db: AsyncSession, settings: Settings, principal: Principal, case: Case, parties: list[Party]
) -> tuple[list[Invitation], Revoked]:
    sent, revoked = await invitations.reissue(db, settings, case, parties)
    await record_event(
        db,
        case.id,
        "links_reissued",
        principal.key,
        {"parties": [party.id for party in parties]},
        public=False,
    )
    return sent, revoked


async def cancel_all(db: AsyncSession, case: Case, actor: str) -> int:
    """Cancels every booked appointment of a case leaving its organisation (escalation): the
    people and their slots are freed, and each party is told (the ICS CANCEL, an SMS). The caller
    holds the case row's lock and moves the case itself. Returns how many were cancelled."""
    booked = list(
        await db.scalars(
            select(Appointment).where(
                Appointment.case_id == case.id, Appointment.status == "booked"
            )
        )
    )
    for appointment in booked:  # a handful at most: one case's future sessions
        await _set_status(db, appointment, "cancelled", actor)
        await record_event(
            db,
            case.id,
            "appointment_cancelled",
            actor,
            {"appointment_id": appointment.id, "starts_at": appointment.starts_at.isoformat()},
        )
        await queue_notices(db, appointment, "cancelled")
    if booked:
        await db.execute(
            delete(SlotClaim).where(SlotClaim.appointment_id.in_([a.id for a in booked]))
        )
    return len(booked)
