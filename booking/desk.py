"""The desks: the coordinators' dashboard, "my cases" for mediators, and the alarm inbox.

Each listing is a fixed number of statements whatever the page size: one for the page's rows
(with the organisation's and mediator's names joined in), one for the counts per state; the
organisation subtree is a recursive CTE inside them, never a separate round trip."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.auth import Principal
from app.errors import Conflict, NotFound, ValidationFailed
from app.forms import parse_id
from app.i18n import N_
from app.lifecycle import OPEN
from app.models import RISKS, Alarm, Case, CaseStaff, Organization, StaffUser
from app.policy import COORDINATING, subtree_query
from app.services import DISPUTE_TYPES
from booking.models import Dispatch

PAGE_SIZES = (10, 20, 50, 100)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 10_000
OPEN_STATES = tuple(str(status) for status in OPEN)
RISK_ORDER = sql_case({"red": 0, "yellow": 1, "blue": 2}, value=Case.risk, else_=3)
ALARMS_SHOWN = 100
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    risk: str | None = None
    dispute_type: str | None = None
    org_id: int | None = None
    mediator_id: int | None = None
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    def query(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (for links to other pages)."""
        values = {**self.__dict__, **changes}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


@dataclass(frozen=True)
class Choice:
    id: int
    name: str

    @property
    def display_name(self) -> str:  # a person's name, as the forms call it
        return self.name


@dataclass(frozen=True)
class Row:
    id: int
    number: str | None
    status: str
    risk: str
    tier: str
    dispute_type: str
    deadline_at: datetime | None
    org_name: str
    mediator_name: str | None
    overdue: bool


@dataclass
class Page:
    rows: list[Row]
    counts: dict[str, int]
    overdue: dict[str, int]
    filters: Filters
    total: int = 0
    pages: int = 1
    pending: list[Row] = field(default_factory=list)  # dispatches waiting for my answer


def _choice(
    value: str | None, choices: tuple[str, ...] | dict[str, str], name: str, errors: dict[str, str]
) -> str | None:
    if not value:
        return None
    if value not in choices:
        errors[name] = N_("Please choose one of the listed values.")
    return value


def _number(value: str | None, name: str, errors: dict[str, str]) -> int | None:
    if not value:
        return None
    number = parse_id(value)
    if number is None:
        errors[name] = N_("Please choose one of the listed values.")
    return number


def check_filters(query: dict[str, str]) -> Filters:
    errors: dict[str, str] = {}
    status = _choice(query.get("status"), OPEN_STATES, "status", errors)
    risk = _choice(query.get("risk"), RISKS, "risk", errors)
    dispute_type = _choice(query.get("dispute_type"), DISPUTE_TYPES, "dispute_type", errors)
    org_id = _number(query.get("org_id"), "org_id", errors)
    mediator_id = _number(query.get("mediator_id"), "mediator_id", errors)
    page = _number(query.get("page"), "page", errors) or 1
    if page > MAX_PAGE:
        errors["page"] = N_("Please choose one of the listed values.")
    per_page = _number(query.get("per_page"), "per_page", errors) or DEFAULT_PAGE_SIZE
    if per_page not in PAGE_SIZES:
        errors["per_page"] = N_("Please choose one of the listed values.")
    if errors:
        raise ValidationFailed(errors)
    return Filters(status, risk, dispute_type, org_id, mediator_id, page, per_page)


def _filtered(filters: Filters, *, with_status: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Case.status.in_(OPEN_STATES)]
    if with_status and filters.status:
        conditions.append(Case.status == filters.status)
    if filters.risk:
        conditions.append(Case.risk == filters.risk)
    if filters.dispute_type:
        conditions.append(Case.dispute_type == filters.dispute_type)
    if filters.org_id:
        conditions.append(Case.org_id == filters.org_id)
    if filters.mediator_id:
        conditions.append(Case.mediator_id == filters.mediator_id)
    return conditions


def _order(now: datetime) -> tuple[Any, ...]:
    """Overdue first, then red first, then by deadline (a paused clock last)."""
    overdue = sql_case((Case.deadline_at <= now, 0), else_=1)
    return (overdue, RISK_ORDER, Case.deadline_at.is_(None), Case.deadline_at, Case.id)


def _rows_query(
    now: datetime, conditions: list[ColumnElement[bool]], limit: int = 500, offset: int = 0
) -> Any:
    """One page of open cases. The page's ids are picked from the cases rows alone; only those
    rows are then joined to their organisation's and mediator's names (joining first made
    PostgreSQL join all 100,000 rows before sorting: 4× slower)."""
    page = (
        select(Case.id)
        .where(*conditions)
        .order_by(*_order(now))
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    mediator = aliased(StaffUser)
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            Case.risk,
            Case.tier,
            Case.dispute_type,
            Case.deadline_at,
            Organization.name,
            mediator.display_name,
            func.coalesce(Case.deadline_at <= now, False),
        )
        .join(page, page.c.id == Case.id)
        .join(Organization, Organization.id == Case.org_id)
        .outerjoin(mediator, mediator.id == Case.mediator_id)
        .order_by(*_order(now))
    )


async def _counts(
    sessions: Sessions, now: datetime, conditions: list[ColumnElement[bool]]
) -> tuple[dict[str, int], dict[str, int]]:
    overdue = func.count().filter(Case.deadline_at <= now)
    rows = await _read(
        sessions,
        select(Case.status, func.count(), overdue).where(*conditions).group_by(Case.status),
    )
    counts = {state: 0 for state in OPEN_STATES}
    late = dict(counts)
    for state, count, overdue_count in rows:
        counts[state], late[state] = int(count), int(overdue_count or 0)
    return counts, late


async def dashboard(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    filters: Filters,
    now: datetime,
) -> Page:
    """The coordinators' dashboard over their organisation's subtree: two statements, each
    reading every open case of the subtree, run side by side on two connections."""
    assert principal.org_id is not None  # staff always belong to an organisation
    visible = Case.org_id.in_(subtree_query(principal.org_id))
    conditions = [visible, *_filtered(filters, with_status=True)]
    offset = (filters.page - 1) * filters.per_page
    rows, (counts, late) = await asyncio.gather(
        _read(sessions, _rows_query(now, conditions, filters.per_page, offset)),
        _counts(sessions, now, [visible, *_filtered(filters, with_status=False)]),
    )
    total = counts[filters.status] if filters.status else sum(counts.values())
    pages = max(1, -(-total // filters.per_page))
    return Page([Row(*row) for row in rows], counts, late, filters, total, pages)


async def _read(sessions: Sessions, query: Any) -> list[Any]:
    async with sessions() as db:
        return list((await db.execute(query)).all())


async def my_cases(db: AsyncSession, principal: Principal, now: datetime) -> Page:
    """A mediator's or expert's open cases (their own and their teams'), and the dispatches
    waiting for their answer (to them, or to their organisation): two statements."""
    mine = or_(
        Case.mediator_id == principal.staff_id,
        Case.id.in_(select(CaseStaff.case_id).where(CaseStaff.staff_id == principal.staff_id)),
    )
    rows = await db.execute(_rows_query(now, [Case.status.in_(OPEN_STATES), mine]))
    addressed = or_(
        Dispatch.to_staff_id == principal.staff_id,
        (Dispatch.to_staff_id.is_(None)) & (Dispatch.to_org_id == principal.org_id),
    )
    pending = await db.execute(
        _rows_query(
            now, [Case.id.in_(select(Dispatch.case_id).where(Dispatch.answer.is_(None), addressed))]
        )
    )
    listed = [Row(*row) for row in rows]
    waiting = [Row(*row) for row in pending]
    shown = {row.id for row in waiting}
    return Page([row for row in listed if row.id not in shown], {}, {}, Filters(), pending=waiting)


# --- alarms --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmRow:
    alarm: Alarm
    case_number: str | None


def _addressed_to(principal: Principal) -> ColumnElement[bool]:
    """Alarms to the person, and, for coordinators, those to their organisation's office."""
    if principal.role in COORDINATING:
        return or_(
            Alarm.staff_id == principal.staff_id,
            (Alarm.staff_id.is_(None)) & (Alarm.org_id == principal.org_id),
        )
    return Alarm.staff_id == principal.staff_id


async def alarms_for(
    db: AsyncSession, principal: Principal, *, include_acknowledged: bool = False
) -> list[AlarmRow]:
    query = (
        select(Alarm, Case.number)
        .outerjoin(Case, Case.id == Alarm.case_id)
        .where(_addressed_to(principal))
        .order_by(Alarm.acknowledged_at.is_not(None), Alarm.id.desc())
        .limit(ALARMS_SHOWN)
    )
    if not include_acknowledged:
        query = query.where(Alarm.acknowledged_at.is_(None))
    return [AlarmRow(alarm, number) for alarm, number in await db.execute(query)]


async def acknowledge(db: AsyncSession, principal: Principal, alarm_id: int, now: datetime) -> None:
    """Once: a conditional UPDATE; 404 for someone else's alarm, 409 if already acknowledged."""
    changed = await db.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id, Alarm.acknowledged_at.is_(None), _addressed_to(principal))
        .values(acknowledged_at=now, acknowledged_by=principal.key)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        return
    mine = await db.scalar(select(Alarm.id).where(Alarm.id == alarm_id, _addressed_to(principal)))
    if mine is None:
        raise NotFound(N_("This alarm does not exist or is not addressed to you."))
    raise Conflict(N_("This alarm was already acknowledged."))


async def choices(db: AsyncSession, principal: Principal) -> tuple[list[Choice], list[Choice]]:
    """The organisations and mediators of the subtree (id and name), for the filter and
    dispatch forms."""
    assert principal.org_id is not None
    orgs = await db.execute(
        select(Organization.id, Organization.name)
        .where(
            Organization.id.in_(subtree_query(principal.org_id)), Organization.kind == "mediation"
        )
        .order_by(Organization.id)
    )
    people = await db.execute(
        select(StaffUser.id, StaffUser.display_name)
        .where(
            StaffUser.org_id.in_(subtree_query(principal.org_id)),
            StaffUser.role == "mediator",
            StaffUser.active.is_(True),
        )
        .order_by(StaffUser.org_id, StaffUser.display_name)
    )
    return [Choice(*row) for row in orgs], [Choice(*row) for row in people]
