"""HTML pages of the desks (dashboard, my cases, alarms) and the case actions' form posts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from app.auth import Principal, current
from app.db import sessionmaker_key, transaction, utcnow
from app.errors import Conflict, NotFound, UserError, ValidationFailed
from app.forms import form_dict, parse_id
from app.models import COMPLEXITIES, RISKS, TIERS
from app.panels import FormFailure
from app.policy import COORDINATING, can_view_case, load_case
from app.rendering import render
from app.services import DISPUTE_TYPES
from app.settings import settings_key
from app.views import render_case_page
from booking import desk, triage
from booking.desk_actions import ACTIONS, CaseAction
from booking.views import case_id_of

NO_STORE = {"Cache-Control": "private, no-store"}


async def dashboard(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    if principal.role not in COORDINATING:
        raise web.HTTPSeeOther("/desk/mine")
    filters = desk.check_filters(form_dict(request.query))
    sessions = request.app[sessionmaker_key]
    page, (orgs, mediators) = await asyncio.gather(
        desk.dashboard(sessions, principal, filters, utcnow()), _choices(request, principal)
    )
    context = {
        "page": page,
        "orgs": orgs,
        "mediators": mediators,
        "states": desk.OPEN_STATES,
        "risks": RISKS,
        "dispute_types": DISPUTE_TYPES,
        "page_sizes": desk.PAGE_SIZES,
        "now": utcnow(),
    }
    response = render(request, "booking/desk.html", context)
    response.headers.update(NO_STORE)
    return response


async def _choices(
    request: web.Request, principal: Principal
) -> tuple[list[desk.Choice], list[desk.Choice]]:
    async with request.app[sessionmaker_key]() as db:
        return await desk.choices(db, principal)


async def mine(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    async with request.app[sessionmaker_key]() as db:
        page = await desk.my_cases(db, principal, utcnow())
    response = render(request, "booking/desk_mine.html", {"page": page, "now": utcnow()})
    response.headers.update(NO_STORE)
    return response


async def alarms(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    every = request.query.get("all") == "1"
    async with request.app[sessionmaker_key]() as db:
        rows = await desk.alarms_for(db, principal, include_acknowledged=every)
    response = render(request, "booking/desk_alarms.html", {"rows": rows, "every": every})
    response.headers.update(NO_STORE)
    return response


async def acknowledged(request: web.Request) -> int:
    """Acknowledges the alarm in the path for its addressee (the page's and the API's)."""
    principal = current(request)
    principal.require_staff()
    alarm_id = parse_id(request.match_info["alarm_id"])
    if alarm_id is None:
        raise NotFound("This alarm does not exist or is not addressed to you.")
    async with transaction(request.app) as db:
        await desk.acknowledge(db, principal, alarm_id, utcnow())
    return alarm_id


async def acknowledge(request: web.Request) -> web.StreamResponse:
    await acknowledged(request)
    raise web.HTTPSeeOther("/desk/alarms")


async def register(request: web.Request) -> web.StreamResponse:
    """受理 from the case page; a wrong form is shown again with its errors."""
    principal = current(request)
    principal.require_staff("coordinator")
    case_id = case_id_of(request)
    data = form_dict(await request.post())
    async with transaction(request.app) as db:
        case = await load_case(db, principal, case_id)
        try:
            registration = triage.check_registration(data)
        except ValidationFailed as error:
            context = {
                "case": case,
                "values": data,
                "errors": error.fields,
                "risks": RISKS,
                "complexities": COMPLEXITIES,
                "tiers": TIERS,
            }
            return render(request, "booking/register.html", context, status=422)
        await triage.do_register(db, request.app[settings_key], principal, case, registration)
    raise web.HTTPSeeOther(f"/cases/{case_id}")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def case_action(name: str, action: CaseAction) -> Handler:
    """A form post running one desk action, then back to the case page (or, for a receiver
    who declined and can no longer see the case, to their desk)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = current(request)
        principal.require_staff()
        case_id = case_id_of(request)
        data = form_dict(await request.post())
        try:
            async with transaction(request.app) as db:
                settings = request.app[settings_key]
                case = await action(db, settings, principal, case_id, data, utcnow())
                visible = await can_view_case(db, principal, case)
        except (UserError, Conflict) as error:  # rolled back; the page again, with the message
            return await render_case_page(request, case_id, FormFailure.of(name, error, data))
        raise web.HTTPSeeOther(f"/cases/{case_id}" if visible else "/desk/mine")

    return handler


def setup(app: web.Application, case_path: str) -> None:
    app.router.add_get("/desk", dashboard, name="desk")
    app.router.add_get("/desk/mine", mine, name="desk_mine")
    app.router.add_get("/desk/alarms", alarms, name="desk_alarms")
    app.router.add_post(r"/desk/alarms/{alarm_id:\d{1,9}}/ack", acknowledge)
    app.router.add_post(f"{case_path}/register", register)
    for name, action in ACTIONS.items():
        if name != "register":
            app.router.add_post(f"{case_path}/{name}", case_action(name, action))
