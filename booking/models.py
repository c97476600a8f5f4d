"""Availability, appointments and the slot cells that make double booking impossible."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Availability(Base):
    __tablename__ = "availability"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Appointment(Base):
    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # booked | cancelled | done | no_show
    status: Mapped[str] = mapped_column(String(16), default="booked")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The ICS SEQUENCE: bumped on every change (reschedule, member replaced, cancel).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(32))


class SlotClaim(Base):
    """One fixed-length cell of one person's time, held by an appointment or by a duty session
    of the appointment clinic (exactly one of them). The unique key is the no-double-booking
    rule: a mediation booking can never overlap the same person's duty session, nor the other
    way round."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        UniqueConstraint("staff_id", "cell_start"),
        CheckConstraint("(appointment_id IS NULL) <> (duty_session_id IS NULL)", name="one_holder"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    cell_start: Mapped[datetime] = mapped_column(UTCDateTime)
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    duty_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("duty_sessions.id", ondelete="CASCADE"), index=True
    )


# --- intake (issue 6): agents, group members, evidence ----------------------------------------


class PartyAgent(Base):
    """委托代理人: acts for one party, with general or special authority (特别授权 lets the agent
    admit, waive or settle claims; it must be stated, never assumed)."""

    __tablename__ = "party_agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    authority: Mapped[str] = mapped_column(String(16))  # general | special
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    """One household or person of a group case's attached list (the representatives are
    parties; the other members are listed, not each entered as a party)."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("case_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200), default="")


class Evidence(Base):
    """An uploaded image or PDF. The bytes live in app/storage.py under `storage_key` (chosen by
    us, never by the uploader); seen by the case's staff and by its uploader only."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    uploader: Mapped[str] = mapped_column(String(32))  # principal key: party:7, staff:3
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # evidence | identity (身份证明) | attorney (授权委托书): the court's packet files each apart
    kind: Mapped[str] = mapped_column(String(16), default="evidence", server_default="evidence")


class Dispatch(Base):
    """One dispatch (派单) of a case: from the dispatcher's organisation to an organisation or a
    mediator, answered once (accepted, declined, expired unacknowledged, or withdrawn by a
    reassignment) by a conditional UPDATE on `answer IS NULL`. The case's owner is `cases.org_id`,
    which moves with the dispatch; these rows keep the history (一案一码)."""

    __tablename__ = "dispatches"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    to_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    to_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    by: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(16))  # accepted|declined|expired|withdrawn
    answered_by: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500), default="")


class ClockPause(Base):
    """A paused deadline clock: `cases.deadline_at` is cleared while paused and set again on
    resuming from the time that was left. Pausing needs a reason (e.g. waiting for an appraisal)."""

    __tablename__ = "clock_pauses"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remaining_seconds: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    by: Mapped[str] = mapped_column(String(32))
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FollowUp(Base):
    """The follow-up visit (回访) after closing: due `followup_days` after it, recorded once."""

    __tablename__ = "followups"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When to raise the overdue alarm; cleared once recorded or raised, so the sweep's index
    # holds only what it still watches.
    alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    method: Mapped[str | None] = mapped_column(String(8))  # phone | visit | online
    result: Mapped[str | None] = mapped_column(String(16))  # aftercare.FOLLOWUP_RESULTS
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(32))


class PerformanceItem(Base):
    """One obligation of an agreement whose performance the committee supervises (art. 31)."""

    __tablename__ = "performance_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    what: Mapped[str] = mapped_column(String(500))
    debtor: Mapped[str] = mapped_column(String(64))  # who owes it
    due_on: Mapped[date] = mapped_column(Date)  # an Asia/Shanghai calendar day
    alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # as FollowUp's
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)  # yuan × 100, when money
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # | performed | not_performed
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_by: Mapped[str | None] = mapped_column(String(32))


class Rating(Base):
    """A party's rating of the handling and the mediator (事后评诊): one per party, ever."""

    __tablename__ = "ratings"
    # Covers mediator_ratings: the averages are read from the index alone.
    __table_args__ = (Index(None, "mediator_id", "attitude", "procedure", "result"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), unique=True)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    attitude: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[int] = mapped_column(Integer)
    result: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- issue 7: weekly availability, exceptions, booking profiles, panels ---------------------


class AvailabilityRule(Base):
    """A weekly window in the person's own time zone: weekday 0 = Monday, minutes of the day."""

    __tablename__ = "availability_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)


class AvailabilityException(Base):
    """One local day that departs from the weekly rules: `off` removes [start, end) of it
    (leave, a holiday: 0–1440 for the whole day), `extra` adds a window (an extra day)."""

    __tablename__ = "availability_exceptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))  # off | extra
    start_minute: Mapped[int] = mapped_column(Integer, default=0)
    end_minute: Mapped[int] = mapped_column(Integer, default=1440)


class BookingProfile(Base):
    """How a person is booked and shown on the roster. Absent means the defaults."""

    __tablename__ = "booking_profiles"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    daily_max: Mapped[int | None] = mapped_column(Integer)  # appointments per local day
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)  # dispute types
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)  # 普通话, 河南话, English
    region: Mapped[str] = mapped_column(String(64), default="")
    years: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str | None] = mapped_column(String(128))  # invitations with the ICS file
    # The roster (挂号): an uploaded photo in app/storage.py (initials when absent), a short bio.
    photo_key: Mapped[str | None] = mapped_column(String(200))
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")


class AppointmentMember(Base):
    """Everyone an appointment claims: the mediator, and the experts of a panel (专家会诊)."""

    __tablename__ = "appointment_members"
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # mediator | expert


# --- issue 7: the daily maximum's counter, the duty clinic (预约门诊) ------------------------


class StaffDay(Base):
    """How many appointments start on one local day of one person: the daily maximum's counter.
    Changed only by conditional UPDATEs (booking/day_load.py), so two concurrent bookings can
    never both take the day's last place."""

    __tablename__ = "staff_days"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class DutySession(Base):
    """A duty lawyer's or judge's session of the appointment clinic: `capacity` consultations of
    `place_minutes` one after another (6 × 20 minutes in a morning), or, with `place_minutes`
    0, `capacity` people received together from `starts_at`. `booked` moves only by
    conditional UPDATEs, and the CHECK makes over-booking impossible whatever the code does."""

    __tablename__ = "duty_sessions"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="places"),
        CheckConstraint("capacity >= 1", name="capacity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # lawyer | judge
    topic: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DutyPlace(Base):
    """One party's place in a duty session, held by phone (verified by SMS code). `place` is the
    consultation's number in the session; a cancelled place sets it NULL, which frees it (NULLs
    never collide in the unique key). `token_hash` is the hash of the party's cancel link."""

    __tablename__ = "duty_places"
    __table_args__ = (
        UniqueConstraint("session_id", "place"),
        CheckConstraint("place >= 0", name="place"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("duty_sessions.id"), index=True)
    place: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="booked")  # | cancelled
    phone_code_id: Mapped[int | None] = mapped_column(ForeignKey("phone_codes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
