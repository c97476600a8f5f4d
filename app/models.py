"""The case spine: organisations, staff, cases, parties, their timeline, and kernel tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

TIERS = ("village", "town", "district")
ORG_KINDS = ("mediation", "court")
ROLES = ("admin", "coordinator", "mediator", "expert", "court_clerk", "judge")
COURT_ROLES = ("court_clerk", "judge")
RISKS = ("red", "yellow", "blue")
COMPLEXITIES = ("simple", "general", "complex", "difficult")
PARTY_ROLES = ("applicant", "respondent")
PARTY_KINDS = ("person", "organisation")
CHANNELS = ("online", "walk_in", "grid")


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(8))  # 吴 in （2026）吴矛调字第0001号
    kind: Mapped[str] = mapped_column(String(16), default="mediation")
    tier: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    # The basic court its committees apply to for judicial confirmation (民事诉讼法 art. 205);
    # unset: the nearest ancestor's.
    court_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """Server-side browser session for staff and parties (revocable; the cookie holds a token)."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # staff | party
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # The capability link a party session was opened with: reissuing the link revokes it.
    link_id: Mapped[int | None] = mapped_column(ForeignKey("party_links.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CourtToken(Base):
    """A court system's bearer token: acts as that court on the pull API, nothing else."""

    __tablename__ = "court_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CourtWebhook(Base):
    """Where a court's filing events are pushed; the HMAC secret is kept encrypted (the sender
    needs it back, so it cannot be a one-way hash)."""

    __tablename__ = "court_webhooks"
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_sealed: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("org_id", "year", "seq"),
        # The desk's dashboard reads its page and its counts per state from this index alone.
        Index("ix_cases_desk", "org_id", "status", "deadline_at", "risk", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(64), unique=True)
    dispute_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(16))
    risk: Mapped[str] = mapped_column(String(8), default="blue")
    complexity: Mapped[str] = mapped_column(String(16), default="general")
    status: Mapped[str] = mapped_column(String(16), default="applied", index=True)  # lifecycle.py
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Intake (booking/intake.py): how the dispute reached the centre, the receipt number texted
    # to the applicant for progress lookup, and the mediator the applicant asked for (art. 19).
    channel: Mapped[str] = mapped_column(String(16), default="online", server_default="online")
    receipt: Mapped[str | None] = mapped_column(String(16), unique=True, index=True)
    preferred_mediator_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # How the case ended (booking/outcome.py) and when it was closed (结单).
    outcome: Mapped[str | None] = mapped_column(String(24))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_note: Mapped[str | None] = mapped_column(Text)  # art. 28 oral terms, art. 26 reason
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseStaff(Base):
    """A case's team beyond its mediator: experts, co-mediators, duty lawyers. Members see the
    case and enter its room (art. 20: people with special knowledge, with the parties' consent)."""

    __tablename__ = "case_staff"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # expert | mediator | lawyer | observer
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseSequence(Base):
    """The last case number given per organisation and year. Registration increments it under
    the row's lock, so numbers are unique and gap-free however many coordinators register."""

    __tablename__ = "case_sequences"
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Party(Base):
    __tablename__ = "parties"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16))
    # The full ID number is not kept: only its masked form and a keyed digest for matching.
    # Both empty when no ID number was given: it is optional at intake (issue 6).
    id_masked: Mapped[str] = mapped_column(String(18))
    id_digest: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    # `role` is the party's side (applicant | respondent). An organisation party has a unified
    # social credit code (GB 32100) and a legal representative instead of an ID number.
    kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    credit_code: Mapped[str | None] = mapped_column(String(18))
    representative: Mapped[str | None] = mapped_column(String(64))


class PartyLink(Base):
    """Capability link: a party's key to one case. Only the token's hash is stored."""

    __tablename__ = "party_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    """Append-only timeline and audit log of a case (全程留痕)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(32))  # staff:3, party:7, court:2, system
    public: Mapped[bool] = mapped_column(Boolean, default=True)  # shown to parties as progress
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The case's hash chain (app/audit.py): set when the event is flushed, never by callers.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    principal: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Job(Base):
    """Outbox/job queue: claimed atomically, at-least-once, retried with backoff."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # A claim is a lease: a job still `running` after this instant is claimed again.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The organisation a job works for, when its dead letter is shown to that org's admins.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)


class Message(Base):
    """A notification as sent (or as the database backend keeps it, for the admin outbox page)."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    recipient: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # The sender's idempotency key: a retried delivery of the same message is recorded once.
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThrottleCounter(Base):
    """Attempts per key (login name, client address) in one fixed time window, shared by every
    app process through the database when Redis is not configured."""

    __tablename__ = "throttle_counters"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PhoneCode(Base):
    """A one-time SMS code proving that someone holds a phone (applying, booking a duty slot,
    signing). Only the code's keyed hash is stored; attempts are counted in the row, so a
    guesser gets `otp_attempts` tries in total however many requests run at once."""

    __tablename__ = "phone_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # apply | lookup | duty | sign | ...
    subject: Mapped[str] = mapped_column(String(64), index=True)  # what it unlocks, e.g. party:7
    phone: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alarm(Base):
    """An alarm on a staff desk (超时报警, 督办, non-performance, an unacknowledged dispatch),
    addressed to one person or to an organisation's coordinators. `key` makes raising it
    idempotent: a sweep that runs twice, or on two workers, raises each alarm once."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8), default="warning")  # info | warning | critical
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))


class DeadlineSetting(Base):
    """A deadline an admin set in the browser (app/deadlines.py); it overrides the environment's
    default of the same name. Names: the complexities, `acknowledge` (hours), `followup_days`."""

    __tablename__ = "deadline_settings"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(32))
