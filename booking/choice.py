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
from app.forms import form_dict, parse_id, read_json
from app.i18n import N_
from app.lifecycle import CaseStatus
from app.models import Case, CaseEvent, StaffUser
from app.openapi import ID, document, error_responses, json_body, json_response, path_id
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
CHOSEN = {
    "type": "object",
    "required": ["case_id", "mediator"],
    "properties": {
        "case_id": ID,
        "mediator": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": ID, "name": {"type": "string"}},
                },
                {"type": "null"},
            ]
        },
    },
}


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


async def choose_api(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/cases/{case_id}/mediator-choice {"mediator_id": id | null}: the same choice
    from a party's own client (their session cookie and the CSRF header)."""
    principal = current(request)
    case_id = case_id_of(request)
    body = await read_json(request)
    raw = body.get("mediator_id")
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool)):
        raise ValidationFailed({"mediator_id": NOT_HERE})
    async with transaction(request.app) as db:
        case, person = await check_choice(
            db, principal, case_id, {"mediator_id": "" if raw is None else str(raw)}
        )
        await do_choose(db, principal, case, person)
    chosen = {"id": person.id, "name": person.display_name} if person else None
    return web.json_response({"case_id": case.id, "mediator": chosen})


def setup(app: web.Application, case_path: str) -> None:
    app.router.add_post(f"{case_path}/mediator-choice", choose)
    app.router.add_post(f"/api/v1{case_path}/mediator-choice", choose_api)
    document(
        app,
        "/api/v1/cases/{case_id}/mediator-choice",
        "post",
        {
            "operationId": "chooseMediator",
            "summary": (
                "A party chooses the case's mediator among its organisation's (null: leave it "
                "to the centre) until the case is dispatched."
            ),
            "parameters": [path_id("case_id")],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["mediator_id"],
                    "properties": {"mediator_id": {"anyOf": [ID, {"type": "null"}]}},
                }
            ),
            "responses": {
                "200": json_response(CHOSEN, "the choice as recorded"),
                **error_responses(400, 401, 403, 404, 409, 413, 422),
            },
        },
    )
    add_panel(app, choice_panel)
