"""The desk's case actions, one entry point each, shared by the HTML forms and the JSON API:
`(db, settings, principal, case_id, data, now) -> Case`, run in one transaction by the caller.
Each validates and authorises first (the `check_*`), then writes (the `do_*`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import ValidationFailed
from app.models import Case
from app.policy import load_case
from app.settings import Settings
from booking import assign, clocks, dispatch, triage

CaseAction = Callable[
    [AsyncSession, Settings, Principal, int, dict[str, str], datetime], Awaitable[Case]
]


async def register(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case = await load_case(db, p, case_id)
    return await triage.do_register(db, s, p, case, triage.check_registration(data), now=now)


async def refuse(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case = await load_case(db, p, case_id)
    return await triage.do_refuse(db, p, case, triage.check_refusal(data))


async def refer(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case = await load_case(db, p, case_id)
    return await triage.do_refer(db, p, case, triage.check_referral(data))


async def dispatch_case(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    plan = await dispatch.check_dispatch(db, p, case_id, data)
    await dispatch.do_dispatch(db, s, p, plan, now=now)
    return plan.case


async def accept(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case, pending = await dispatch.check_answer(db, p, case_id)
    return await dispatch.do_accept(db, p, case, pending, now=now)


async def decline(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    errors: dict[str, str] = {}
    reason = triage.check_text(data, "reason", errors)
    if errors:
        raise ValidationFailed(errors)
    case, pending = await dispatch.check_answer(db, p, case_id)
    return await dispatch.do_decline(db, p, case, pending, reason, now=now)


async def escalate(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case, parent, reason = await dispatch.check_escalation(db, p, case_id, data)
    return await dispatch.do_escalate(db, p, case, parent, reason, now=now)


async def add_to_team(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    case, person, role = await dispatch.check_team_member(db, p, case_id, data)
    await dispatch.do_add_to_team(db, p, case, person, role)
    return case


async def supervise(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    return await clocks.supervise(db, p, case_id, data, now)


async def pause(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    return await clocks.pause(db, p, case_id, data, now)


async def resume(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    return await clocks.resume(db, p, case_id, data, now)


async def extend(
    db: AsyncSession, s: Settings, p: Principal, case_id: int, data: dict[str, str], now: datetime
) -> Case:
    return await clocks.extend(db, p, case_id, data, now)


# path segment under /cases/{id}/ (and /api/v1/cases/{id}/) → action
ACTIONS: dict[str, CaseAction] = {
    "register": register,
    "refuse": refuse,
    "refer": refer,
    "dispatch": dispatch_case,
    "accept": accept,
    "decline": decline,
    "escalate": escalate,
    "team": add_to_team,
    "supervise": supervise,
    "clock/pause": pause,
    "clock/resume": resume,
    "clock/extend": extend,
    "assign": assign.assign,  # issue 7: "let the system choose"
}
