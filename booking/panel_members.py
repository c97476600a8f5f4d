"""Replacing one expert of a panel (专家会诊): the rest of the panel and the time stay. All or
nothing in one transaction: the new expert's cells are claimed under the same unique key as any
booking (a concurrent booking of them makes this a 409 and changes nothing), the replaced
expert's cells are released, and both are texted through the outbox after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import insert_if_missing, lock_row, transaction, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.forms import form_dict, parse_id, read_json
from app.i18n import N_, format_datetime, translate
from app.models import Case, CaseStaff, StaffUser
from app.notify import SMS_LOCALE, send_sms
from app.panels import Panel, add_panel
from app.policy import Action, can
from app.services import record_event
from app.settings import Settings, settings_key
from booking import day_load, services
from booking.api import appointment_json
from booking.invitations import org_name
from booking.models import Appointment, AppointmentMember, BookingProfile, SlotClaim
from booking.slots import CELL, cell_count
from booking.views import case_id_of

NOT_AN_EXPERT = N_("Please choose an expert of this panel to replace.")
ALREADY_MEMBER = N_("This person is already on the panel.")
RELEASED = N_("[{org}] You are no longer needed for the panel session of {time} (case {number}).")
ADDED = N_("[{org}] You are invited to an expert panel session at {time} (case {number}).")


@dataclass(frozen=True)
class Replacement:
    case: Case
    appointment: Appointment
    old: services.Member
    new: StaffUser


async def check_replacement(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case_id: int,
    appointment_id: int,
    data: dict[str, str],
    now: datetime,
) -> Replacement:
    principal.require_staff("coordinator")
    case, appointment = await services.check_change(
        db, settings, principal, case_id, appointment_id, now=now
    )
    members = await services.members_of(db, appointment.id)
    old_id, new_id = parse_id(data.get("old_id")), parse_id(data.get("new_id"))
    old = next((m for m in members if m.staff_id == old_id and m.role == "expert"), None)
    if old is None:
        raise ValidationFailed({"old_id": NOT_AN_EXPERT})
    if new_id in {m.staff_id for m in members}:
        raise ValidationFailed({"new_id": ALREADY_MEMBER})
    if new_id is None or not await services.bookable_ids(db, principal, [new_id]):
        raise ValidationFailed({"new_id": services.NO_SUCH_MEDIATOR})
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    await services.check_free(db, [new_id], appointment.starts_at, minutes, now=now)
    new = await db.get(StaffUser, new_id)
    assert new is not None
    return Replacement(case, appointment, old, new)


async def _cells(db: AsyncSession, appointment: Appointment, staff_ids: list[int]) -> int:
    """As a booking claims: the session plus the longest buffer of its people."""
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    longest = await db.scalar(
        select(func.max(BookingProfile.buffer_minutes)).where(
            BookingProfile.staff_id.in_(staff_ids)
        )
    )
    return cell_count(minutes) + cell_count(longest or 0)


async def do_replace(db: AsyncSession, principal: Principal, plan: Replacement) -> None:
    case, appointment, old, new = plan.case, plan.appointment, plan.old, plan.new
    await lock_row(db, Case, case.id)  # the case row first, as every booking change
    await db.refresh(appointment)
    if appointment.status != "booked":
        raise Conflict(services.NOT_BOOKED)
    swapped = await db.execute(
        update(AppointmentMember)
        .where(
            AppointmentMember.appointment_id == appointment.id,
            AppointmentMember.staff_id == old.staff_id,
        )
        .values(staff_id=new.id)
        .execution_options(synchronize_session=False)
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(services.NOT_BOOKED)  # replaced meanwhile by someone else
    await db.execute(
        delete(SlotClaim).where(
            SlotClaim.appointment_id == appointment.id, SlotClaim.staff_id == old.staff_id
        )
    )
    people = [m.staff_id for m in await services.members_of(db, appointment.id)]
    cells = await _cells(db, appointment, people)
    start = appointment.starts_at
    rows = [
        {"staff_id": new.id, "cell_start": start + CELL * i, "appointment_id": appointment.id}
        for i in range(cells)
    ]
    try:
        await db.execute(insert(SlotClaim), rows)
    except IntegrityError as exc:
        raise Conflict(services.TAKEN) from exc
    await _move_day(db, start, old.staff_id, new.id)
    appointment.sequence += 1
    appointment.changed_at, appointment.changed_by = utcnow(), principal.key
    await _move_team(db, case, old.staff_id, new.id, principal)
    await record_event(
        db,
        case.id,
        "panel_member_replaced",
        principal.key,
        {"appointment_id": appointment.id, "old": old.name, "new": new.display_name},
        public=False,
    )
    await _notify(db, case, appointment, old.staff_id, new)


async def _move_day(db: AsyncSession, start: datetime, old_id: int, new_id: int) -> None:
    """The session leaves the replaced expert's day and takes a place of the new expert's
    daily maximum (Conflict(DAY_FULL) when their day is full, and nothing changes)."""
    people = await day_load.profiles(db, [old_id, new_id])
    await day_load.give_back(db, day_load.days_of({old_id: people[old_id]}, start))
    await day_load.take(db, day_load.days_of({new_id: people[new_id]}, start))


async def _move_team(
    db: AsyncSession, case: Case, old_id: int, new_id: int, principal: Principal
) -> None:
    """The new expert joins the case team; the replaced one leaves it unless another booked
    session of the case still has them."""
    await insert_if_missing(
        db, CaseStaff, case_id=case.id, staff_id=new_id, role="expert",
        added_by=principal.key, added_at=utcnow(),
    )  # fmt: skip
    still = await db.scalar(
        select(func.count())
        .select_from(AppointmentMember)
        .join(Appointment, Appointment.id == AppointmentMember.appointment_id)
        .where(
            Appointment.case_id == case.id,
            Appointment.status == "booked",
            AppointmentMember.staff_id == old_id,
        )
    )
    if not still:
        await db.execute(
            delete(CaseStaff).where(
                CaseStaff.case_id == case.id,
                CaseStaff.staff_id == old_id,
                CaseStaff.role == "expert",
            )
        )


async def _notify(
    db: AsyncSession, case: Case, appointment: Appointment, old_id: int, new: StaffUser
) -> None:
    old = await db.get(StaffUser, old_id)
    when = format_datetime(appointment.starts_at, SMS_LOCALE)
    params = {"org": await org_name(db, case), "time": when, "number": case.number or case.id}
    for person, message in ((old, RELEASED), (new, ADDED)):
        if person is not None and person.phone:
            await send_sms(db, person.phone, translate(message, SMS_LOCALE, **params), case.id)


async def replace_expert(request: web.Request) -> web.StreamResponse:
    """POST /cases/{case_id}/appointments/{appointment_id}/experts (old_id, new_id)."""
    case_id = case_id_of(request)
    appointment_id = parse_id(request.match_info["appointment_id"]) or 0
    data = form_dict(await request.post())
    principal = current(request)
    async with transaction(request.app) as db:
        settings = request.app[settings_key]
        plan = await check_replacement(
            db, settings, principal, case_id, appointment_id, data, utcnow()
        )
        await do_replace(db, principal, plan)
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def experts_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """For the coordinator: each booked panel's experts, with a form to replace one."""
    if principal.kind != "staff" or principal.role not in ("coordinator", "admin"):
        return None
    if not await can(db, principal, Action.BOOK, case):
        return None
    rows = (
        await db.execute(
            select(Appointment.id, Appointment.starts_at, StaffUser.id, StaffUser.display_name)
            .join(AppointmentMember, AppointmentMember.appointment_id == Appointment.id)
            .join(StaffUser, StaffUser.id == AppointmentMember.staff_id)
            .where(
                Appointment.case_id == case.id,
                Appointment.status == "booked",
                AppointmentMember.role == "expert",
            )
            .order_by(Appointment.starts_at, StaffUser.id)
        )
    ).all()
    if not rows:
        return None
    candidates = await services.bookable_staff(db, principal)
    return Panel("booking/panel_experts.html", {"rows": rows, "candidates": candidates})


async def replace_expert_api(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/appointments/{appointment_id}/experts {"old_id": id, "new_id": id}."""
    principal = current(request)
    appointment_id = parse_id(request.match_info["appointment_id"]) or 0
    body = await read_json(request)
    data = {
        name: str(value)
        for name in ("old_id", "new_id")
        if isinstance(value := body.get(name), int) and not isinstance(value, bool)
    }
    async with transaction(request.app) as db:
        case_id = await db.scalar(
            select(Appointment.case_id).where(Appointment.id == appointment_id)
        )
        if case_id is None:
            raise NotFound(services.NO_SUCH_APPOINTMENT)
        settings = request.app[settings_key]
        plan = await check_replacement(
            db, settings, principal, case_id, appointment_id, data, utcnow()
        )
        await do_replace(db, principal, plan)
        members = await services.members_of(db, appointment_id)
        answer = appointment_json(plan.appointment, members)
    return web.json_response(answer)


def setup(app: web.Application, case_path: str) -> None:
    app.router.add_post(
        rf"{case_path}/appointments/{{appointment_id:\d{{1,9}}}}/experts", replace_expert
    )
    app.router.add_post(
        r"/api/v1/appointments/{appointment_id:\d{1,9}}/experts", replace_expert_api
    )
    add_panel(app, experts_panel)
