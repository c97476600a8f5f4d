"""Booking's panels on the case page: the coordinator's next step, and the appointments."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import utcnow
from app.lifecycle import OPEN, CaseStatus
from app.models import COMPLEXITIES, RISKS, TIERS, Case
from app.panels import Panel, add_panel
from app.policy import Action, can
from booking import aftercare_views, desk, dispatch, services, triage
from booking.slots import DEFAULT_MINUTES, LENGTHS, local_today

COORDINATING = ("coordinator", "admin")
_DESK_ACTIONS = (Action.REGISTER, Action.DISPATCH, Action.CONDUCT, Action.SUPERVISE)


async def coordinator_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """Register (受理) an application, then book a mediator: only for coordinators and admins."""
    if principal.kind != "staff" or principal.role not in COORDINATING:
        return None
    if case.status == "applied":
        return Panel(
            "booking/panel_register.html",
            {"risks": RISKS, "complexities": COMPLEXITIES, "tiers": TIERS, "form": {}},
        )
    if case.status not in services.SCHEDULABLE:
        return None
    staff = await services.bookable_staff(db, principal)
    return Panel(
        "booking/panel_book.html",
        {
            "staff": staff,
            "orgs": await services.organizations_of(db, staff),
            "today": local_today(),
            "lengths": LENGTHS,
            "minutes": DEFAULT_MINUTES,
        },
    )


async def appointments_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """Everyone who can see the case sees its appointments (time and mediator)."""
    listed = await services.appointments_of(db, case.id)
    if not listed and case.status == "applied":
        return None
    # Parties too: the server refuses them inside the notice period, with a clear message.
    can_cancel = principal.kind == "party" or (
        principal.kind == "staff" and principal.role in COORDINATING
    )
    can_invite = principal.kind == "staff" and (
        principal.role in COORDINATING
        or (principal.role == "mediator" and case.mediator_id == principal.staff_id)
    )
    return Panel(
        "booking/panel_appointments.html",
        {"appointments": listed, "can_cancel": can_cancel, "can_invite": can_invite},
    )


async def desk_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """The desk's actions on this case that the viewer may take: refuse or refer, dispatch,
    answer a dispatch, escalate, add to the team, the clock, supervision."""
    if principal.kind != "staff":
        return None
    is_open = case.status in OPEN
    allowed = {action: await can(db, principal, action, case) for action in _DESK_ACTIONS}
    pending = await dispatch.pending_dispatch(db, case.id)
    flags = {
        "triage": case.status == CaseStatus.APPLIED and allowed[Action.REGISTER],
        "refer": case.status in triage.REFERABLE and allowed[Action.REGISTER],
        "dispatch": case.status in dispatch.DISPATCHABLE and allowed[Action.DISPATCH],
        "answer": pending is not None and dispatch.is_receiver(principal, pending),
        "escalate": case.status in dispatch.ESCALATABLE
        and (allowed[Action.DISPATCH] or case.mediator_id == principal.staff_id),
        "clock": is_open and allowed[Action.CONDUCT],
        "extend": is_open and allowed[Action.DISPATCH],
        "supervise": is_open and allowed[Action.SUPERVISE] and principal.org_id != case.org_id,
    }
    if not any(flags.values()):
        return None
    orgs, mediators = await desk.choices(db, principal) if flags["dispatch"] else ([], [])
    team = await dispatch.team_candidates(db, principal) if flags["dispatch"] else []
    context = {
        **flags,
        "pending": pending,
        "orgs": orgs,
        "mediators": mediators,
        "team": team,
        "team_roles": dispatch.TEAM_ROLES,
        "targets": triage.REFERRAL_TARGETS,
    }
    return Panel("booking/panel_desk.html", context)


async def clock_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """Every open case shows its deadline clock, to staff and to its parties."""
    if case.status not in OPEN:
        return None
    return Panel("booking/panel_clock.html", {"deadline": case.deadline_at, "now": utcnow()})


def setup(app: web.Application) -> None:
    add_panel(app, clock_panel)
    add_panel(app, desk_panel)
    add_panel(app, coordinator_panel)
    add_panel(app, appointments_panel)
    aftercare_views.add_panels(app)
