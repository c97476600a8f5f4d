"""Deadline clocks, the alarm sweep and supervision (督办/催办).

Every open case (`lifecycle.OPEN`) has a deadline (`cases.deadline_at`, set at registration from
the complexity). It may be paused (cleared, the time left kept in `clock_pauses`) or extended,
only with a reason, each an event on the timeline. The sweep raises `due_soon` and `overdue`
alarms in ONE set-based INSERT … SELECT, keyed per case, deadline and recipient, so running it
again (or on two workers) raises nothing twice; an extension gives new keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.alarms import raise_alarm
from app.auth import Principal
from app.db import dialect_of, lock_row, transaction, utcnow
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.i18n import N_
from app.jobs import enqueue, register
from app.lifecycle import OPEN
from app.models import Alarm, Case, Job, Organization
from app.policy import Action, load_case, require
from app.services import record_event
from app.settings import Settings, settings_key
from app.tokens import new_token
from booking.aftercare import raise_due_alarms
from booking.dispatch import expire_dispatch
from booking.models import ClockPause, Dispatch
from booking.triage import check_text

MAX_EXTENSION_HOURS = 720
SWEEP_JOB = "desk_sweep"
NOT_OPEN = N_("This case's clock has stopped: the case is no longer open.")


def _epoch(db: AsyncSession, column: Any) -> ColumnElement[str]:
    """The instant as whole seconds since 1970, as text, for alarm keys."""
    if dialect_of(db) == "sqlite":
        return func.strftime("%s", column)
    return cast(cast(func.extract("epoch", column), BigInteger), String)


def _json_object(db: AsyncSession) -> ColumnElement[Any]:
    # SQLite gives a column declared JSON numeric affinity: CAST('{}' AS JSON) would store 0.
    if dialect_of(db) == "sqlite":
        return literal("{}", String)
    return cast(literal("{}"), JSON)


def sweep_statement(db: AsyncSession, now: datetime, soon: timedelta) -> Any:
    """INSERT … SELECT of every due alarm: overdue (and due soon) open cases, to the mediator,
    to the case's organisation's coordinators and, when overdue, to the tier above."""
    overdue = Case.deadline_at <= now
    kind = sql_case((overdue, literal("overdue")), else_=literal("due_soon"))
    level = sql_case((overdue, literal("critical")), else_=literal("warning"))
    stem = kind + ":" + cast(Case.id, String) + ":" + _epoch(db, Case.deadline_at)
    office_key = stem + ":org:" + cast(Case.org_id, String)
    mediator_key = stem + ":staff:" + cast(Case.mediator_id, String)  # NULL without one
    # Every alarm of one case, stage and deadline is raised by the same statement, so a case
    # whose alarm to its present mediator (or, without one, to its office) exists is skipped:
    # the steady state probes one index entry per due case instead of attempting (and
    # conflicting on) every insert again, and a new mediator still gets theirs.
    raised = select(Alarm.id).where(Alarm.key == func.coalesce(mediator_key, office_key)).exists()
    due = and_(
        Case.status.in_([str(s) for s in OPEN]),
        Case.deadline_at.is_not(None),
        Case.deadline_at <= now + soon,
        ~raised,
    )
    parent = aliased(Organization)
    data, created = _json_object(db), literal(now)
    to_mediator = select(
        mediator_key,
        kind,
        level,
        Case.id,
        Case.org_id,
        Case.mediator_id,
        data,
        created,
    ).where(due, Case.mediator_id.is_not(None))
    to_office = select(
        office_key,
        kind,
        level,
        Case.id,
        Case.org_id,
        cast(null(), Integer),
        data,
        created,
    ).where(due)
    to_tier_above = (
        select(
            stem + ":org:" + cast(parent.id, String),
            kind,
            level,
            Case.id,
            parent.id,
            cast(null(), Integer),
            data,
            created,
        )
        .join(Organization, Organization.id == Case.org_id)
        .join(parent, parent.id == Organization.parent_id)
        .where(due, overdue)
    )
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    columns = ["key", "kind", "level", "case_id", "org_id", "staff_id", "data", "created_at"]
    return (
        insert(Alarm)
        .from_select(columns, union_all(to_mediator, to_office, to_tier_above))
        .on_conflict_do_nothing()
    )


async def sweep_deadlines(db: AsyncSession, settings: Settings, now: datetime) -> int:
    """Raises every due alarm in one statement; returns how many were new."""
    soon = timedelta(hours=settings.due_soon_hours)
    result = await db.execute(sweep_statement(db, now, soon))
    return max(int(result.rowcount or 0), 0)  # type: ignore[attr-defined]


async def expired_dispatches(db: AsyncSession, now: datetime) -> list[int]:
    rows = await db.scalars(
        select(Dispatch.id).where(Dispatch.answer.is_(None), Dispatch.ack_due_at <= now)
    )
    return list(rows)


async def sweep(app: web.Application, now: datetime | None = None) -> int:
    """The periodic sweep: deadline and after-care alarms, then every unacknowledged dispatch
    returned."""
    now = now or utcnow()
    async with transaction(app) as db:
        raised = await sweep_deadlines(db, app[settings_key], now)
        raised += await raise_due_alarms(db, now)
        due = await expired_dispatches(db, now)
    for dispatch_id in due:
        async with transaction(app) as db:
            await expire_dispatch(db, dispatch_id, now=now)
    return raised


async def _sweep_job(app: web.Application, _payload: dict[str, Any]) -> None:
    await sweep(app)
    async with transaction(app) as db:
        await schedule_sweep(db, app[settings_key])


async def schedule_sweep(db: AsyncSession, settings: Settings, *, first: bool = False) -> None:
    """Queues the next sweep unless one is already waiting (so duplicates die out)."""
    waiting = await db.scalar(
        select(Job.id).where(Job.kind == SWEEP_JOB, Job.status == "pending").limit(1)
    )
    if waiting is None:
        delay = timedelta() if first else timedelta(minutes=settings.sweep_minutes)
        await enqueue(db, SWEEP_JOB, {}, delay=delay)


async def _dispatch_expiry_job(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        await expire_dispatch(db, payload["dispatch_id"])


async def _start_sweeping(app: web.Application) -> None:
    async with transaction(app) as db:
        await schedule_sweep(db, app[settings_key], first=True)


# --- pause, resume, extend ---------------------------------------------------------------------


async def _open_case(db: AsyncSession, principal: Principal, case_id: int, action: Action) -> Case:
    case = await load_case(db, principal, case_id)
    await require(db, principal, action, case)
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status not in OPEN:
        raise Conflict(NOT_OPEN)
    return case


def _reason(data: dict[str, str]) -> str:
    errors: dict[str, str] = {}
    reason = check_text(data, "reason", errors)
    if errors:
        raise ValidationFailed(errors)
    return reason


async def _set_deadline(db: AsyncSession, case: Case, deadline: datetime | None) -> None:
    await db.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(deadline_at=deadline)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(case)


async def pause(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    """Stops the clock (waiting for an appraisal, a party abroad): the time left is kept."""
    reason = _reason(data)
    case = await _open_case(db, principal, case_id, Action.CONDUCT)
    if case.deadline_at is None:
        raise Conflict("The clock is already paused.")
    left = max(int((case.deadline_at - now).total_seconds()), 0)
    db.add(
        ClockPause(
            case_id=case.id, paused_at=now, remaining_seconds=left, reason=reason, by=principal.key
        )
    )
    await _set_deadline(db, case, None)
    await record_event(
        db, case.id, "clock_paused", principal.key, {"reason": reason, "remaining_seconds": left}
    )
    return case


async def resume(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case = await _open_case(db, principal, case_id, Action.CONDUCT)
    paused = await db.scalar(
        select(ClockPause).where(ClockPause.case_id == case.id, ClockPause.resumed_at.is_(None))
    )
    if paused is None or case.deadline_at is not None:
        raise Conflict("The clock is not paused.")
    paused.resumed_at = now
    deadline = now + timedelta(seconds=paused.remaining_seconds)
    await _set_deadline(db, case, deadline)
    await record_event(
        db, case.id, "clock_resumed", principal.key, {"deadline": deadline.isoformat()}
    )
    return case


def check_extension(data: dict[str, str]) -> tuple[int, str]:
    errors: dict[str, str] = {}
    raw = data.get("hours", "").strip()
    hours = int(raw) if raw.isdigit() and len(raw) <= 4 else 0
    if not 1 <= hours <= MAX_EXTENSION_HOURS:
        errors["hours"] = N_("Please give a whole number of hours from 1 to 720.")
    reason = check_text(data, "reason", errors)
    if errors:
        raise ValidationFailed(errors)
    return hours, reason


async def extend(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    """A coordinator extends the deadline; alarms are keyed by deadline, so they can fire anew."""
    hours, reason = check_extension(data)
    case = await _open_case(db, principal, case_id, Action.DISPATCH)
    if case.deadline_at is None:
        raise Conflict("The clock is paused; resume it first.")
    old = case.deadline_at
    await _set_deadline(db, case, old + timedelta(hours=hours))
    await record_event(
        db,
        case.id,
        "deadline_extended",
        principal.key,
        {"hours": hours, "reason": reason, "from": old.isoformat()},
    )
    return case


# --- supervision (督办/催办) ---------------------------------------------------------------------


async def supervise(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    """A message from the tier above: it stays in the timeline and alarms the case's handler."""
    errors: dict[str, str] = {}
    message = check_text(data, "message", errors)
    if errors:
        raise ValidationFailed(errors)
    case = await _open_case(db, principal, case_id, Action.SUPERVISE)
    if principal.org_id == case.org_id:
        raise PermissionDenied(N_("Supervision comes from the tier above the case's organisation."))
    await record_event(
        db,
        case.id,
        "supervised",
        principal.key,
        {"message": message, "by": principal.name},
        public=False,
    )
    await raise_alarm(
        db,
        f"supervise:{case.id}:{new_token()[:24]}",
        "supervision",
        org_id=case.org_id,
        staff_id=case.mediator_id,
        case_id=case.id,
        level="warning",
        data={"number": case.number, "message": message, "by": principal.name},
    )
    return case


def setup(app: web.Application) -> None:
    register(app, SWEEP_JOB, _sweep_job)
    register(app, "dispatch_expiry", _dispatch_expiry_job)
    if app[settings_key].run_worker:
        app.on_startup.append(_start_sweeping)
