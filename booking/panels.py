"""Booking's panels on the case page: the coordinator's next step, and the appointments."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.models import COMPLEXITIES, RISKS, TIERS, Case
from app.panels import Panel, add_panel
from booking import services
from booking.slots import DEFAULT_MINUTES, LENGTHS, local_today

COORDINATING = ("coordinator", "admin")


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
    can_cancel = principal.kind == "staff" and principal.role in COORDINATING
    can_invite = principal.kind == "staff" and (
        principal.role in COORDINATING
        or (principal.role == "mediator" and case.mediator_id == principal.staff_id)
    )
    return Panel(
        "booking/panel_appointments.html",
        {"appointments": listed, "can_cancel": can_cancel, "can_invite": can_invite},
    )


def setup(app: web.Application) -> None:
    add_panel(app, coordinator_panel)
    add_panel(app, appointments_panel)
