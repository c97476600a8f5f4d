"""The appointment clinic (预约门诊): duty lawyers and judges hold sessions of consultation places,
and parties take a place themselves after proving their phone by SMS code.

A consultation is advice, not a dispute handed to mediation, so a place creates no case: no
triage, no deadline clock, no case number. If the consultation turns into a dispute, the party
applies (or staff register it) as usual.

Capacity is the database's: `duty_sessions.booked` is raised by a conditional UPDATE that fails
once it equals `capacity` (and a CHECK forbids more), and each place holds a number unique within
its session. The UPDATE keeps the session row locked until commit, so choosing the lowest free
number after it is never raced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_, SHANGHAI, translate
from app.identity import mask_phone
from app.models import Organization, StaffUser
from app.notify import send_sms
from app.otp import SMS_LOCALE
from app.policy import subtree_query
from app.settings import Settings
from app.tokens import new_token, token_hash
from booking.models import DutyPlace, DutySession, SlotClaim
from booking.slots import CELL, cell_count, is_aligned

KINDS = ("lawyer", "judge")
DUTY_ROLES = ("expert", "mediator")
PLACE_LENGTHS = (0, 10, 15, 20, 30, 45, 60)  # 0: everyone is received from the session's start
MAX_CAPACITY = 60
MAX_SESSION_MINUTES = 8 * 60
CODE_PURPOSE = "clinic"

FULL = N_("This session is fully booked. Please choose another session.")
NO_SUCH_SESSION = N_("This duty session does not exist.")
NO_SUCH_PLACE = N_("This booking does not exist or the link is wrong.")
STARTED = N_("This session has already begun. Please choose a later session.")
ALREADY = N_("This phone already holds a place in this session.")
CANCELLED = N_("This place is already cancelled.")
LINK_EXPIRED = N_("This link has expired: the session is over.")
PAST = N_("This time is in the past. Please choose a future time.")
MISALIGNED = N_("Sessions start on the hour or on the half hour.")
BAD_KIND = N_("Choose a duty lawyer or a duty judge.")
BAD_CAPACITY = N_("Give a number of places from 1 to 60.")
BAD_PLACE_MINUTES = N_("Give the length of one consultation: 0, 10, 15, 20, 30, 45 or 60 minutes.")
TOO_LONG = N_("A session lasts at most eight hours.")
NO_SUCH_STAFF = N_("This person does not exist or cannot hold duty sessions here.")
BUSY = N_("This person has an appointment or another duty session at this time.")
BOOKED_SMS = N_(
    "Your {kind} consultation at the mediation centre: {time}, place {place}. To cancel: {link}"
)
CANCELLED_SMS = N_("Your consultation on {time} is cancelled.")
KIND_LABELS = {"lawyer": N_("duty lawyer"), "judge": N_("duty judge")}


def code_subject(phone: str) -> str:
    return f"clinic:{phone}"


@dataclass(frozen=True)
class NewSession:
    staff_id: int
    kind: str
    starts_at: datetime
    capacity: int
    place_minutes: int
    minutes: int  # the session's length when place_minutes is 0
    topic: str = ""

    @property
    def ends_at(self) -> datetime:
        length = self.place_minutes * self.capacity if self.place_minutes else self.minutes
        return self.starts_at + timedelta(minutes=length)


@dataclass(frozen=True)
class Listed:
    session: DutySession
    staff_name: str
    org_name: str


def place_time(session: DutySession, place: int) -> datetime:
    return session.starts_at + timedelta(minutes=session.place_minutes * place)


def check_new_session(new: NewSession, now: datetime) -> None:
    errors: dict[str, str] = {}
    if new.kind not in KINDS:
        errors["kind"] = BAD_KIND
    if not 1 <= new.capacity <= MAX_CAPACITY:
        errors["capacity"] = BAD_CAPACITY
    if new.place_minutes not in PLACE_LENGTHS:
        errors["place_minutes"] = BAD_PLACE_MINUTES
    elif not timedelta() < new.ends_at - new.starts_at <= timedelta(minutes=MAX_SESSION_MINUTES):
        errors["minutes" if not new.place_minutes else "capacity"] = TOO_LONG
    if not is_aligned(new.starts_at):
        errors["starts_at"] = MISALIGNED
    elif new.starts_at <= now:
        errors["starts_at"] = PAST
    if errors:
        raise ValidationFailed(errors)


async def do_create_session(
    db: AsyncSession, principal: Principal, new: NewSession, *, now: datetime | None = None
) -> Listed:
    """Coordinators and admins schedule sessions for duty staff of their organisations."""
    principal.require_staff("coordinator")
    check_new_session(new, now or utcnow())
    row = (
        await db.execute(
            select(StaffUser, Organization.name)
            .join(Organization, Organization.id == StaffUser.org_id)
            .where(
                StaffUser.id == new.staff_id,
                StaffUser.org_id.in_(subtree_query(principal.org_id or 0)),
                StaffUser.role.in_(DUTY_ROLES),
                StaffUser.active.is_(True),
            )
        )
    ).first()
    if row is None:
        raise ValidationFailed({"staff_id": NO_SUCH_STAFF})
    person, org_name = row
    session = DutySession(
        org_id=person.org_id,
        staff_id=person.id,
        kind=new.kind,
        topic=new.topic,
        starts_at=new.starts_at,
        ends_at=new.ends_at,
        place_minutes=new.place_minutes,
        capacity=new.capacity,
        booked=0,
        created_by=principal.key,
    )
    db.add(session)
    await db.flush()
    await _claim_time(db, session)
    return Listed(session, person.display_name, org_name)


async def _claim_time(db: AsyncSession, session: DutySession) -> None:
    """The session holds its person's time under the same unique key as every appointment, so
    neither can be booked over the other, however concurrent."""
    minutes = int((session.ends_at - session.starts_at).total_seconds() // 60)
    rows = [
        {"staff_id": session.staff_id, "cell_start": session.starts_at + CELL * i,
         "duty_session_id": session.id}
        for i in range(cell_count(minutes))
    ]  # fmt: skip
    try:
        await db.execute(insert(SlotClaim), rows)
    except IntegrityError as exc:
        raise Conflict(BUSY) from exc


async def open_sessions(
    db: AsyncSession, *, now: datetime | None = None, limit: int = 50
) -> list[Listed]:
    """Sessions not yet begun, earliest first, with their duty staff member and organisation."""
    rows = await db.execute(
        select(DutySession, StaffUser.display_name, Organization.name)
        .join(StaffUser, StaffUser.id == DutySession.staff_id)
        .join(Organization, Organization.id == DutySession.org_id)
        .where(DutySession.starts_at > (now or utcnow()))
        .order_by(DutySession.starts_at, DutySession.id)
        .limit(limit)
    )
    return [Listed(*row) for row in rows]


def place_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/clinic/p/{token}"


def _when(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


async def do_book_place(
    db: AsyncSession,
    settings: Settings,
    session_id: int,
    name: str,
    phone: str,
    phone_code_id: int | None,
    *,
    now: datetime | None = None,
) -> tuple[DutyPlace, DutySession, str]:
    """A place in the session for this (verified) phone and its link's token, or
    Conflict(FULL). The SMS with the time and the cancel link goes out through the outbox after
    commit."""
    now = now or utcnow()
    taken = await db.execute(
        update(DutySession)
        .where(
            DutySession.id == session_id,
            DutySession.booked < DutySession.capacity,
            DutySession.starts_at > now,
        )
        .values(booked=DutySession.booked + 1)
        .execution_options(synchronize_session=False)
    )
    session = await db.get(DutySession, session_id, populate_existing=True)
    if session is None:
        raise NotFound(NO_SUCH_SESSION)
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(STARTED if session.starts_at <= now else FULL)
    held = await db.execute(
        select(DutyPlace.place, DutyPlace.phone).where(
            DutyPlace.session_id == session_id, DutyPlace.status == "booked"
        )
    )
    places = held.all()
    if any(holder == phone for _, holder in places):
        raise Conflict(ALREADY)
    free = min(set(range(session.capacity)) - {number for number, _ in places})
    token = new_token()
    place = DutyPlace(
        session_id=session_id,
        place=free,
        name=name,
        phone=phone,
        token_hash=token_hash(token),
        status="booked",
        phone_code_id=phone_code_id,
    )
    db.add(place)
    await db.flush()
    kind = translate(KIND_LABELS[session.kind], SMS_LOCALE)
    body = translate(
        BOOKED_SMS,
        SMS_LOCALE,
        kind=kind,
        time=_when(place_time(session, free)),
        place=free + 1,
        link=place_link(settings, token),
    )
    await send_sms(db, phone, body, None)
    return place, session, token


async def place_by_token(db: AsyncSession, token: str) -> tuple[DutyPlace, DutySession]:
    row = (
        await db.execute(
            select(DutyPlace, DutySession)
            .join(DutySession, DutySession.id == DutyPlace.session_id)
            .where(DutyPlace.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        raise NotFound(NO_SUCH_PLACE)
    return row[0], row[1]


async def place_by_id(db: AsyncSession, place_id: int) -> tuple[DutyPlace, DutySession]:
    row = (
        await db.execute(
            select(DutyPlace, DutySession)
            .join(DutySession, DutySession.id == DutyPlace.session_id)
            .where(DutyPlace.id == place_id)
        )
    ).first()
    if row is None:
        raise NotFound(NO_SUCH_PLACE)
    return row[0], row[1]


async def do_cancel_place(
    db: AsyncSession, token: str, *, now: datetime | None = None
) -> tuple[DutyPlace, DutySession]:
    """The holder of the link cancels their place up to the session's start; the place is free
    again at once (its number is cleared and the session's count lowered, together)."""
    now = now or utcnow()
    place, session = await place_by_token(db, token)
    if place.status != "booked":
        raise Conflict(CANCELLED)
    if session.starts_at <= now:
        raise PermissionDenied(STARTED)
    when = place_time(session, place.place or 0)
    cancelled = await db.execute(
        update(DutyPlace)
        .where(DutyPlace.id == place.id, DutyPlace.status == "booked")
        .values(status="cancelled", place=None, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(CANCELLED)
    await db.execute(
        update(DutySession)
        .where(DutySession.id == session.id)
        .values(booked=DutySession.booked - 1)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(place)
    await db.refresh(session)
    await send_sms(db, place.phone, translate(CANCELLED_SMS, SMS_LOCALE, time=_when(when)), None)
    return place, session


@dataclass(frozen=True)
class Holder:
    place: int
    starts_at: datetime
    name: str
    phone: str  # masked


async def session_list(
    db: AsyncSession, principal: Principal, session_id: int
) -> tuple[Listed, list[Holder]]:
    """The session's booked places, for its duty staff member and for staff of its organisation
    or above; phones masked."""
    principal.require_staff()
    row = (
        await db.execute(
            select(DutySession, StaffUser.display_name, Organization.name)
            .join(StaffUser, StaffUser.id == DutySession.staff_id)
            .join(Organization, Organization.id == DutySession.org_id)
            .where(DutySession.id == session_id)
        )
    ).first()
    if row is None:
        raise NotFound(NO_SUCH_SESSION)
    listed = Listed(*row)
    visible = await db.scalar(
        select(DutySession.id).where(
            DutySession.id == session_id,
            DutySession.org_id.in_(subtree_query(principal.org_id or 0)),
        )
    )
    if visible is None and principal.staff_id != listed.session.staff_id:
        raise NotFound(NO_SUCH_SESSION)
    places = await db.scalars(
        select(DutyPlace)
        .where(DutyPlace.session_id == session_id, DutyPlace.status == "booked")
        .order_by(DutyPlace.place)
    )
    return listed, [
        Holder(p.place or 0, place_time(listed.session, p.place or 0), p.name, mask_phone(p.phone))
        for p in places
    ]


async def sessions_of(
    db: AsyncSession, principal: Principal, *, now: datetime | None = None, limit: int = 100
) -> list[Listed]:
    """Sessions not yet ended that this staff member may see: those of their organisation and
    below, and their own duty sessions."""
    principal.require_staff()
    visible = DutySession.org_id.in_(subtree_query(principal.org_id or 0))
    rows = await db.execute(
        select(DutySession, StaffUser.display_name, Organization.name)
        .join(StaffUser, StaffUser.id == DutySession.staff_id)
        .join(Organization, Organization.id == DutySession.org_id)
        .where(
            DutySession.ends_at > (now or utcnow()),
            visible | (DutySession.staff_id == (principal.staff_id or 0)),
        )
        .order_by(DutySession.starts_at, DutySession.id)
        .limit(limit)
    )
    return [Listed(*row) for row in rows]
