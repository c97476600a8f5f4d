"""Booking use cases: who can be booked, booking, cancelling, reissuing invitation links.

`check_*` validates and authorises (typed errors, nothing written); `do_*` writes in the caller's
transaction and queues its SMS there too, so they go out only if the change commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import N_, format_datetime
from app.jobs import enqueue
from app.models import Case, Organization, Party, StaffUser
from app.notify import notify_parties
from app.policy import load_case, org_subtree, require_case_staff
from app.revocation import Revoked
from app.services import parties_of, record_event
from app.settings import Settings
from booking import invitations
from booking.forms import BAD_MINUTES
from booking.invitations import SMS_LOCALE, Invitation
from booking.models import Appointment, SlotClaim
from booking.slots import cells, covered, is_aligned, valid_length, windows_of

BOOKABLE_ROLES = ("mediator", "expert")
SCHEDULABLE = ("registered", "scheduled")
TAKEN = N_("This time is already taken. Please choose another slot.")
NO_SUCH_MEDIATOR = N_("This mediator does not exist or you may not book them.")
REMINDER_LEAD = timedelta(hours=24)


@dataclass(frozen=True)
class BookingPlan:
    case: Case
    mediator: StaffUser
    starts_at: datetime
    minutes: int

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    mediator: StaffUser
    invitations: list[Invitation]


@dataclass(frozen=True)
class Listed:
    appointment: Appointment
    mediator: StaffUser


async def bookable_staff(db: AsyncSession, principal: Principal) -> list[StaffUser]:
    """Active mediators and experts of the principal's organisation and those below it."""
    if principal.org_id is None:
        return []
    subtree = await org_subtree(db, principal.org_id)
    rows = await db.scalars(
        select(StaffUser)
        .where(
            StaffUser.org_id.in_(subtree),
            StaffUser.role.in_(BOOKABLE_ROLES),
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.role.desc(), StaffUser.display_name, StaffUser.id)
    )
    return list(rows)


async def load_bookable(db: AsyncSession, principal: Principal, staff_id: int) -> StaffUser:
    for person in await bookable_staff(db, principal):
        if person.id == staff_id:
            return person
    raise NotFound(NO_SUCH_MEDIATOR)


async def organizations_of(db: AsyncSession, staff: list[StaffUser]) -> dict[int, Organization]:
    ids = {person.org_id for person in staff}
    rows = await db.scalars(select(Organization).where(Organization.id.in_(ids)))
    return {org.id: org for org in rows}


async def check_booking(
    db: AsyncSession,
    principal: Principal,
    case_id: int,
    mediator_id: int,
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime | None = None,
) -> BookingPlan:
    principal.require_staff("coordinator")
    case = await load_case(db, principal, case_id)
    if case.status == "applied":
        raise Conflict("Please register the case before booking an appointment.")
    if case.status not in SCHEDULABLE:
        raise Conflict("This case can no longer be scheduled.")
    mediator = await load_bookable(db, principal, mediator_id)
    errors: dict[str, str] = {}
    if not valid_length(minutes):
        errors["minutes"] = BAD_MINUTES
    if not is_aligned(starts_at):
        errors["starts_at"] = N_("Appointments start on the hour or on the half hour.")
    elif starts_at <= (now or utcnow()):
        errors["starts_at"] = N_("This time is in the past. Please choose a future time.")
    elif not errors:
        end = starts_at + timedelta(minutes=minutes)
        if not covered(await windows_of(db, mediator.id, starts_at, end), starts_at, minutes):
            errors["starts_at"] = N_("The mediator is not available at this time.")
    if errors:
        raise ValidationFailed(errors)
    return BookingPlan(case, mediator, starts_at, minutes)


async def do_book(
    db: AsyncSession, settings: Settings, principal: Principal, plan: BookingPlan
) -> Booked:
    appointment = Appointment(
        case_id=plan.case.id,
        staff_id=plan.mediator.id,
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        status="booked",
        created_by=principal.key,
    )
    db.add(appointment)
    await db.flush()
    db.add_all(
        SlotClaim(staff_id=plan.mediator.id, cell_start=cell, appointment_id=appointment.id)
        for cell in cells(plan.starts_at, plan.minutes)
    )
    try:
        await db.flush()
    except IntegrityError as exc:
        # The unique (staff_id, cell_start) key is the only guard that holds under concurrency:
        # a check-then-insert in Python let 14 of 50 concurrent bookings through on SQLite.
        raise Conflict(TAKEN) from exc
    case = plan.case
    # An explicit UPDATE even when the case already reads "scheduled": a cancellation that
    # committed meanwhile may have set it back, and this UPDATE waits for its row lock.
    await db.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(mediator_id=plan.mediator.id, status="scheduled")
        .execution_options(synchronize_session=False)
    )
    case.mediator_id, case.status = plan.mediator.id, "scheduled"
    await record_event(
        db,
        case.id,
        "booked",
        principal.key,
        {
            "appointment_id": appointment.id,
            "starts_at": plan.starts_at.isoformat(),
            "minutes": plan.minutes,
            "mediator": plan.mediator.display_name,
        },
    )
    sent = await invitations.invite_to_appointment(
        db,
        settings,
        case,
        await parties_of(db, case.id),
        plan.starts_at,
        plan.mediator.display_name,
    )
    delay = plan.starts_at - REMINDER_LEAD - utcnow()
    if delay > timedelta():
        await enqueue(db, "appointment_reminder", {"appointment_id": appointment.id}, delay=delay)
    return Booked(appointment, plan.mediator, sent)


async def appointments_of(db: AsyncSession, case_id: int) -> list[Listed]:
    rows = await db.execute(
        select(Appointment, StaffUser)
        .join(StaffUser, StaffUser.id == Appointment.staff_id)
        .where(Appointment.case_id == case_id)
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [Listed(appointment, person) for appointment, person in rows]


async def check_cancel(
    db: AsyncSession, principal: Principal, case_id: int, appointment_id: int
) -> tuple[Case, Appointment]:
    principal.require_staff("coordinator")
    case = await load_case(db, principal, case_id)
    appointment = await db.get(Appointment, appointment_id)
    if appointment is None or appointment.case_id != case.id:
        raise NotFound("This appointment does not exist.")
    if appointment.status != "booked":
        raise Conflict("This appointment is already cancelled.")
    return case, appointment


async def do_cancel(
    db: AsyncSession, principal: Principal, case: Case, appointment: Appointment
) -> None:
    # The case row's lock first: whether any appointment remains is then decided after every
    # concurrent booking of the case has committed or waits for us.
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    # Conditional update: of two concurrent cancellations only one finds it still booked.
    changed = await db.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "booked")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This appointment is already cancelled.")
    await db.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))
    remaining = await db.scalar(
        select(Appointment.id).where(Appointment.case_id == case.id, Appointment.status == "booked")
    )
    if remaining is None and case.status == "scheduled":
        case.status = "registered"
    await record_event(
        db,
        case.id,
        "appointment_cancelled",
        principal.key,
        {"appointment_id": appointment.id, "starts_at": appointment.starts_at.isoformat()},
    )
    await notify_parties(
        db,
        case,
        "Case {number}: the mediation on {time} is cancelled. "
        "The mediation centre will contact you about a new time.",
        time=format_datetime(appointment.starts_at, SMS_LOCALE),
    )


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
