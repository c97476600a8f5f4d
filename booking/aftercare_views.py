"""Pages and case panels for ending a case and for after-care: outcome, closing (结单), the
follow-up visit, performance of the terms, and the parties' rating (through their case link)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.case_status import announce_case_status
from app.db import transaction
from app.errors import NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.lifecycle import CaseStatus
from app.models import Case
from app.panels import Panel, add_panel
from app.policy import Action, can, load_case
from app.rendering import render
from app.settings import settings_key
from booking import aftercare, aftercare_api, outcome
from booking.aftercare import FOLLOWUP_METHODS, FOLLOWUP_RESULTS
from booking.models import Rating
from booking.views import case_id_of

Use = Callable[[AsyncSession, Principal, Case], Awaitable[object]]


def outcomes_for(status: str) -> tuple[str, ...]:
    """The outcomes a case in `status` may record (none once it has one)."""
    if status in outcome.AGREEMENT_EFFECTIVE:
        return ("written_agreement",)
    if status in outcome.STILL_OPEN:
        return tuple(o for o in outcome.OUTCOMES if o != "written_agreement")
    return ()


FORMS = ("outcome", "followup", "item", "rating")


async def _act(request: web.Request, form: str, use: Use) -> web.Response | None:
    """Runs `use` on the case in one transaction; None when done, else the form shown again
    with its errors (422)."""
    principal = current(request)
    if form != "rating":
        principal.require_staff()
    data = form_dict(await request.post())
    async with transaction(request.app) as db:
        case = await load_case(db, principal, case_id_of(request))
        try:
            await use(db, principal, case)
        except ValidationFailed as error:
            if form not in FORMS:
                raise
            return _form_again(request, case, form, data, error.fields)
    return None


def _back(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/cases/{case_id_of(request)}")


def _form_again(
    request: web.Request, case: Case, form: str, values: dict[str, str], errors: dict[str, str]
) -> web.Response:
    context = {
        "case": case,
        "form": form,
        "values": values,
        "errors": errors,
        "outcomes": outcomes_for(case.status),
        "methods": FOLLOWUP_METHODS,
        "results": FOLLOWUP_RESULTS,
    }
    return render(request, "booking/aftercare_form.html", context, status=422)


async def record_outcome(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await outcome.do_record_outcome(db, principal, case, outcome.check_outcome(data))

    if again := await _act(request, "outcome", use):
        return again
    # Concluded: the case's live room closes now, not at its next request.
    await announce_case_status(request.app, case_id_of(request), CaseStatus.CONCLUDED)
    raise _back(request)


async def close(request: web.Request) -> web.StreamResponse:
    settings = request.app[settings_key]

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await outcome.do_close(db, settings, principal, case)

    await _act(request, "close", use)
    await announce_case_status(request.app, case_id_of(request), CaseStatus.CLOSED)
    raise _back(request)


async def record_followup(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await aftercare.do_record_followup(db, principal, case, aftercare.check_followup(data))

    if again := await _act(request, "followup", use):
        return again
    raise _back(request)


async def add_item(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await aftercare.do_add_item(db, principal, case, aftercare.check_item(data))

    if again := await _act(request, "item", use):
        return again
    raise _back(request)


async def mark_item(request: web.Request) -> web.StreamResponse:
    item_id = parse_id(request.match_info["item_id"])
    if item_id is None:
        raise NotFound(aftercare.NO_ITEM)
    data = form_dict(await request.post())

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await aftercare.do_mark_item(db, principal, case, item_id, data.get("status", ""))

    await _act(request, "mark", use)
    raise _back(request)


async def rate(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())

    async def use(db: AsyncSession, principal: Principal, case: Case) -> None:
        await aftercare.do_rate(db, principal, case, aftercare.check_rating(data))

    if again := await _act(request, "rating", use):
        return again
    raise _back(request)


# --- case panels -----------------------------------------------------------------------------


async def outcome_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """Staff: the outcome, the form to record it, and closing; for whoever may conduct."""
    if principal.kind != "staff":
        return None
    conduct = await can(db, principal, Action.CONDUCT, case)
    outcomes = outcomes_for(case.status) if conduct else ()
    can_close = conduct and case.status == CaseStatus.CONCLUDED
    if not (outcomes or case.outcome):
        return None
    return Panel("booking/outcome_panel.html", {"outcomes": outcomes, "can_close": can_close})


async def aftercare_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    if principal.kind != "staff" or case.status not in aftercare.ITEMS_OPEN:
        return None
    care = await aftercare.aftercare_of(db, case.id)
    return Panel(
        "booking/aftercare_panel.html",
        {
            "care": care,
            "can_act": await can(db, principal, Action.CONDUCT, case),
            "methods": FOLLOWUP_METHODS,
            "results": FOLLOWUP_RESULTS,
            "summary": _summary(care.ratings),
        },
    )


def _summary(ratings: list[Rating]) -> dict[str, Any] | None:
    if not ratings:
        return None
    n = len(ratings)
    return {
        "count": n,
        **{name: round(sum(getattr(r, name) for r in ratings) / n, 1) for name in aftercare.SCORES},
    }


async def rating_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """A party of a closed case rates it here: the link texted at closing opens this page."""
    if principal.kind != "party" or case.status != CaseStatus.CLOSED:
        return None
    assert principal.party_id is not None
    rated = await aftercare.has_rated(db, principal.party_id)
    return Panel("booking/rating_panel.html", {"rated": rated})


def setup(app: web.Application) -> None:
    case = r"/cases/{case_id:\d{1,9}}"
    app.router.add_post(f"{case}/outcome", record_outcome)
    app.router.add_post(f"{case}/close", close)
    app.router.add_post(f"{case}/followup", record_followup)
    app.router.add_post(f"{case}/performance", add_item)
    app.router.add_post(rf"{case}/performance/{{item_id:\d{{1,9}}}}", mark_item)
    app.router.add_post(f"{case}/rating", rate)
    aftercare.setup(app)
    aftercare_api.setup(app)


def add_panels(app: web.Application) -> None:
    add_panel(app, outcome_panel)
    add_panel(app, aftercare_panel)
    add_panel(app, rating_panel)
