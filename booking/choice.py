"""A party's choice of mediator from their case page (People's Mediation Law art. 19, 23: the
parties may choose or accept their mediators), and the case page's panel that shows the choice
to the coordinator beside "let the system choose" and why the system chose whom it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import transaction
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.forms import form_dict, parse_id
from app.i18n import N_
from app.lifecycle import CaseStatus
from app.models import Case, CaseEvent, StaffUser
from app.panels import Panel, add_panel
from app.policy import Action, can, load_case, subtree_query
from app.services import record_event
from booking.roster import Filters, mediators_query
from booking.views import case_id_of

# The choice can change until the case is dispatched; after that it is the coordinator's record.
OPEN_TO_CHOICE = (CaseStatus.APPLIED, CaseStatus.REGISTERED)
CHOICES_SHOWN = 50
ONLY_PARTIES = N_("Only a party of the case can choose its mediator here.")
TOO_LATE = N_("The case has already been dispatched: please ask the centre to change the mediator.")
NOT_HERE = N_("This mediator does not work for the organisation handling your case.")


async def check_choice(
    db: AsyncSession, principal: Principal, case_id: int, data: dict[str, str]
) -> tuple[Case, StaffUser | None]:
    case = await load_case(db, principal, case_id)
    if principal.kind != "party":
        raise PermissionDenied(ONLY_PARTIES)
    if case.status not in OPEN_TO_CHOICE:
        raise Conflict(TOO_LATE)
    raw = data.get("mediator_id", "")
    if not raw:
        return case, None  # leave it to the centre
    staff_id = parse_id(raw)
    person = await db.scalar(
        select(StaffUser).where(
            StaffUser.id == (staff_id or 0),
            StaffUser.role == "mediator",
            StaffUser.active.is_(True),
            StaffUser.org_id.in_(subtree_query(case.org_id)),
        )
    )
    if person is None:
        raise ValidationFailed({"mediator_id": NOT_HERE})
    return case, person


async def do_choose(
    db: AsyncSession, principal: Principal, case: Case, person: StaffUser | None
) -> None:
    """A conditional write: a choice that races the dispatch loses cleanly (409)."""
    changed = await db.execute(
        update(Case)
        .where(Case.id == case.id, Case.status.in_([str(s) for s in OPEN_TO_CHOICE]))
        .values(preferred_mediator_id=person.id if person else None)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(TOO_LATE)
    data = {"staff_id": person.id, "name": person.display_name} if person else {"staff_id": None}
    await record_event(db, case.id, "mediator_chosen", principal.key, data)


async def choose(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    case_id = case_id_of(request)
    data = form_dict(await request.post())
    async with transaction(request.app) as db:
        case, person = await check_choice(db, principal, case_id, data)
        await do_choose(db, principal, case, person)
    raise web.HTTPSeeOther(f"/cases/{case_id}#choice")


async def _last_assignment(db: AsyncSession, case_id: int) -> dict[str, Any] | None:
    data = await db.scalar(
        select(CaseEvent.data)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == "auto_assigned")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    if not data:
        return None
    free = data.get("next_free")
    return {**data, "next_free": datetime.fromisoformat(free) if free else None}


async def choice_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    party_may_choose = principal.kind == "party" and case.status in OPEN_TO_CHOICE
    staff = principal.kind == "staff"
    dispatcher = staff and await can(db, principal, Action.DISPATCH, case)
    assignment = await _last_assignment(db, case.id) if staff else None
    if not (party_may_choose or dispatcher or assignment or case.preferred_mediator_id):
        return None
    preferred = (
        await db.get(StaffUser, case.preferred_mediator_id) if case.preferred_mediator_id else None
    )
    options = []
    if party_may_choose:
        query = mediators_query(db, Filters(org_id=case.org_id, size=CHOICES_SHOWN))
        options = [(row[0], row[1], row[3]) for row in (await db.execute(query)).all()]
    context = {
        "preferred": preferred,
        "options": options,
        "party_may_choose": party_may_choose,
        "may_assign": dispatcher and case.status == CaseStatus.REGISTERED,
        "assignment": assignment,
    }
    return Panel("booking/panel_choice.html", context)


def setup(app: web.Application, case_path: str) -> None:
    app.router.add_post(f"{case_path}/mediator-choice", choose)
    add_panel(app, choice_panel)
