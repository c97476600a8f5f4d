"""The JSON API for ending a case and after-care (staff bearer tokens), and its OpenAPI
description. The same services as the pages. Ratings have no API operation: parties have no
tokens, they rate on their case page (the link texted at closing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import Principal, current
from app.case_status import announce_case_status
from app.db import sessionmaker_key, transaction
from app.errors import NotFound
from app.forms import parse_id, read_json
from app.models import Case
from app.openapi import ID, INSTANT, document, error_responses, json_body, json_response, path_id
from app.policy import load_case
from app.settings import settings_key
from booking import aftercare, outcome
from booking.api import iso
from booking.api_docs import IDEMPOTENCY_KEY
from booking.models import PerformanceItem
from booking.views import case_id_of

CASE = "/api/v1/cases/{case_id}"


def case_json(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "status": case.status,
        "outcome": case.outcome,
        "outcome_note": case.outcome_note,
        "outcome_at": iso(case.outcome_at) if case.outcome_at else None,
        "closed_at": iso(case.closed_at) if case.closed_at else None,
    }


def item_json(item: PerformanceItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "what": item.what,
        "debtor": item.debtor,
        "due_on": item.due_on.isoformat(),
        "amount": None if item.amount_fen is None else f"{item.amount_fen / 100:.2f}",
        "status": item.status,
    }


async def _staff_case(request: web.Request, db: AsyncSession) -> tuple[Principal, Case]:
    principal = current(request)
    principal.require_staff()
    return principal, await load_case(db, principal, case_id_of(request))


async def record_outcome(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    async with transaction(request.app) as db:
        principal, case = await _staff_case(request, db)
        await outcome.do_record_outcome(db, principal, case, outcome.check_outcome(body))
    await announce_case_status(request.app, case.id, case.status)
    return web.json_response(case_json(case))


async def close(request: web.Request) -> web.StreamResponse:
    async with transaction(request.app) as db:
        principal, case = await _staff_case(request, db)
        await outcome.do_close(db, request.app[settings_key], principal, case)
    await announce_case_status(request.app, case.id, case.status)
    return web.json_response(case_json(case))


async def record_followup(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    async with transaction(request.app) as db:
        principal, case = await _staff_case(request, db)
        await aftercare.do_record_followup(db, principal, case, aftercare.check_followup(body))
    return await show(request)


async def add_item(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    key = idempotency.key_from(request)
    principal = current(request)
    principal.require_staff()

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        case = await load_case(db, principal, case_id_of(request))
        item = await aftercare.do_add_item(db, principal, case, aftercare.check_item(body))
        return 201, item_json(item)

    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)


async def mark_item(request: web.Request) -> web.StreamResponse:
    item_id = parse_id(request.match_info["item_id"])
    if item_id is None:
        raise NotFound(aftercare.NO_ITEM)
    body = await read_json(request)
    mark = body.get("status")
    async with transaction(request.app) as db:
        principal, case = await _staff_case(request, db)
        await aftercare.do_mark_item(
            db, principal, case, item_id, mark if isinstance(mark, str) else ""
        )
    return await show(request)


async def show(request: web.Request) -> web.StreamResponse:
    async with request.app[sessionmaker_key]() as db:
        _principal, case = await _staff_case(request, db)
        care = await aftercare.aftercare_of(db, case.id)
    followup = care.followup
    return web.json_response(
        {
            "case": case_json(case),
            "followup": None
            if followup is None
            else {
                "due_at": iso(followup.due_at),
                "method": followup.method,
                "result": followup.result,
                "note": followup.note,
                "recorded_at": iso(followup.recorded_at) if followup.recorded_at else None,
            },
            "performance": [item_json(item) for item in care.items],
            "ratings": len(care.ratings),
        }
    )


def setup(app: web.Application) -> None:
    item = r"/performance/{item_id:\d{1,9}}"
    case = r"/api/v1/cases/{case_id:\d{1,9}}"
    app.router.add_post(f"{case}/outcome", record_outcome)
    app.router.add_post(f"{case}/close", close)
    app.router.add_post(f"{case}/followup", record_followup)
    app.router.add_post(f"{case}/performance", add_item)
    app.router.add_post(f"{case}{item}", mark_item)
    app.router.add_get(f"{case}/aftercare", show)
    describe(app)


# --- OpenAPI ---------------------------------------------------------------------------------

NULLABLE_INSTANT = {**INSTANT, "type": ["string", "null"]}
CASE_OUT = {
    "type": "object",
    "required": ["id", "status", "outcome", "outcome_note", "outcome_at", "closed_at"],
    "properties": {
        "id": ID,
        "status": {"type": "string"},
        "outcome": {"type": ["string", "null"], "enum": [*outcome.OUTCOMES, None]},
        "outcome_note": {"type": ["string", "null"]},
        "outcome_at": NULLABLE_INSTANT,
        "closed_at": NULLABLE_INSTANT,
    },
}
OUTCOME_IN = {
    "type": "object",
    "required": ["outcome"],
    "properties": {
        "outcome": {"type": "string", "enum": list(outcome.OUTCOMES)},
        "note": {
            "type": "string",
            "maxLength": outcome.NOTE_MAX_LENGTH,
            "description": "required for " + ", ".join(sorted(outcome.NOTE_REQUIRED)),
        },
    },
}
FOLLOWUP_IN = {
    "type": "object",
    "required": ["method", "result"],
    "properties": {
        "method": {"type": "string", "enum": list(aftercare.FOLLOWUP_METHODS)},
        "result": {"type": "string", "enum": list(aftercare.FOLLOWUP_RESULTS)},
        "note": {"type": "string", "maxLength": aftercare.TEXT_MAX_LENGTH},
    },
}
ITEM_IN = {
    "type": "object",
    "required": ["what", "debtor", "due_on"],
    "properties": {
        "what": {"type": "string", "minLength": 1, "maxLength": aftercare.WHAT_MAX_LENGTH},
        "debtor": {"type": "string", "minLength": 1, "maxLength": aftercare.DEBTOR_MAX_LENGTH},
        "due_on": {"type": "string", "format": "date", "description": "Asia/Shanghai day"},
        "amount": {"type": "string", "pattern": aftercare.AMOUNT_PATTERN, "description": "yuan"},
    },
}
ITEM_OUT = {
    "type": "object",
    "required": ["id", "what", "debtor", "due_on", "amount", "status"],
    "properties": {
        "id": ID,
        "what": {"type": "string"},
        "debtor": {"type": "string"},
        "due_on": {"type": "string", "format": "date"},
        "amount": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["pending", *aftercare.ITEM_MARKS]},
    },
}
AFTERCARE_OUT = {
    "type": "object",
    "required": ["case", "followup", "performance", "ratings"],
    "properties": {
        "case": CASE_OUT,
        "followup": {"type": ["object", "null"]},
        "performance": {"type": "array", "items": ITEM_OUT},
        "ratings": {"type": "integer", "minimum": 0},
    },
}


def _post(app: web.Application, path: str, op: str, summary: str, **parts: Any) -> None:
    document(app, f"{CASE}{path}", "post", {"operationId": op, "summary": summary, **parts})


def describe(app: web.Application) -> None:
    case_param = path_id("case_id")
    writes = error_responses(400, 403, 404, 409, 413, 422)
    _post(
        app,
        "/outcome",
        "recordOutcome",
        "Record how the case ended (mediator or coordinator); a termination texts each party.",
        parameters=[case_param],
        requestBody=json_body(OUTCOME_IN),
        responses={"200": json_response(CASE_OUT, "the outcome was recorded"), **writes},
    )
    _post(
        app,
        "/close",
        "closeCase",
        "Close the case (结单); requires an outcome. Schedules the follow-up, asks for ratings.",
        parameters=[case_param],
        responses={
            "200": json_response(CASE_OUT, "the case is closed"),
            **error_responses(403, 404, 409),
        },
    )
    _post(
        app,
        "/followup",
        "recordFollowUp",
        "Record the follow-up visit (回访) of a closed case, once.",
        parameters=[case_param],
        requestBody=json_body(FOLLOWUP_IN),
        responses={"200": json_response(AFTERCARE_OUT, "recorded"), **writes},
    )
    _post(
        app,
        "/performance",
        "addPerformanceItem",
        "Add an obligation whose performance is supervised (art. 31); reminds the parties.",
        parameters=[case_param, IDEMPOTENCY_KEY],
        requestBody=json_body(ITEM_IN),
        responses={"201": json_response(ITEM_OUT, "the obligation was added"), **writes},
    )
    _post(
        app,
        "/performance/{item_id}",
        "markPerformanceItem",
        "Mark an obligation performed or not performed, once.",
        parameters=[case_param, path_id("item_id")],
        requestBody=json_body(
            {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": list(aftercare.ITEM_MARKS)}},
            }
        ),
        responses={"200": json_response(AFTERCARE_OUT, "marked"), **writes},
    )
    document(
        app,
        f"{CASE}/aftercare",
        "get",
        {
            "operationId": "getAfterCare",
            "summary": "The case's outcome, follow-up, obligations and number of ratings.",
            "parameters": [case_param],
            "responses": {
                "200": json_response(AFTERCARE_OUT, "the after-care"),
                **error_responses(403, 404),
            },
        },
    )
