"""The desk's JSON API under /api/v1: the case actions, the dashboard and the alarm inbox, with
their OpenAPI description built from the constants the validators check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key, utcnow
from app.errors import NotFound
from app.forms import clean, form_dict, parse_id, read_json
from app.i18n import SHANGHAI
from app.lifecycle import CaseStatus
from app.models import COMPLEXITIES, RISKS, TIERS, Case
from app.openapi import (
    ID,
    INSTANT,
    PREFIX,
    document,
    error_responses,
    json_body,
    json_response,
    path_id,
)
from app.policy import CASE_NOT_FOUND
from app.services import DISPUTE_TYPES
from app.settings import settings_key
from booking import desk
from booking.api_docs import IDEMPOTENCY_KEY
from booking.clocks import MAX_EXTENSION_HOURS
from booking.desk_actions import ACTIONS
from booking.desk_views import acknowledged
from booking.dispatch import TEAM_ROLES
from booking.triage import REASON_MAX_LENGTH, REFERRAL_TARGETS

TEXT = {"type": "string", "minLength": 1, "maxLength": REASON_MAX_LENGTH}
OPTIONAL_TEXT = {"type": "string", "maxLength": REASON_MAX_LENGTH}
# Bounds other than ids are written as exclusiveMaximum: "maximum" on an integer means an id
# (tests/test_openapi_document.py holds every such bound to MAX_ID).
HOURS = {"type": "integer", "minimum": 1, "exclusiveMaximum": MAX_EXTENSION_HOURS + 1}
PAGE = {"type": "integer", "minimum": 1, "exclusiveMaximum": desk.MAX_PAGE + 1}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    required: tuple[str, ...] = ()
    properties: dict[str, dict[str, Any]] | None = None  # None: the request has no body


OPERATIONS: dict[str, Operation] = {
    "register": Operation(
        "registerCase",
        "受理: number the application and set its risk colour, complexity and tier.",
        ("risk", "complexity", "tier"),
        {
            "risk": _enum(RISKS),
            "complexity": _enum(COMPLEXITIES),
            "tier": _enum(TIERS),
            "dispute_type": _enum(DISPUTE_TYPES),
        },
    ),
    "refuse": Operation(
        "refuseCase",
        "不予受理, with the reason and advice on other routes (texted to the parties).",
        ("reason", "advice"),
        {"reason": TEXT, "advice": TEXT},
    ),
    "refer": Operation(
        "referCase",
        "分流 to the court, police, petition office or an administrative body.",
        ("target", "note"),
        {"target": _enum(REFERRAL_TARGETS), "note": TEXT},
    ),
    "dispatch": Operation(
        "dispatchCase",
        "派单 (or reassign) to an organisation or a mediator of the caller's subtree.",
        (),
        {"to_org_id": ID, "to_staff_id": ID, "note": OPTIONAL_TEXT},
    ),
    "accept": Operation("acceptDispatch", "接单: the receiver accepts the pending dispatch."),
    "decline": Operation(
        "declineDispatch",
        "退单: the receiver declines with a reason; the case returns to the dispatcher.",
        ("reason",),
        {"reason": TEXT},
    ),
    "escalate": Operation(
        "escalateCase",
        "上交 to the tier above (the parent organisation), with a reason.",
        ("reason",),
        {"reason": TEXT},
    ),
    "team": Operation(
        "addToCaseTeam",
        "Add a mediator or expert to the case's team.",
        ("staff_id", "role"),
        {"staff_id": ID, "role": _enum(TEAM_ROLES)},
    ),
    "supervise": Operation(
        "superviseCase",
        "督办/催办 from the tier above: a message in the timeline and an alarm for the handler.",
        ("message",),
        {"message": TEXT},
    ),
    "clock/pause": Operation(
        "pauseClock", "Pause the deadline clock, with a reason.", ("reason",), {"reason": TEXT}
    ),
    "clock/resume": Operation("resumeClock", "Resume the deadline clock."),
    "clock/extend": Operation(
        "extendDeadline",
        "Extend the deadline by some hours, with a reason.",
        ("hours", "reason"),
        {"hours": HOURS, "reason": TEXT},
    ),
    "assign": Operation(
        "autoAssignCase",
        "Let the system choose: dispatch a registered case to the least-loaded mediator of its "
        "tier with its dispute type as a specialty (and the `language` the party asked for); "
        "the party's own choice first when it matches and has free time. The timeline says why.",
        (),
        {"language": {"type": "string", "maxLength": 64}, "note": OPTIONAL_TEXT},
    ),
}

NULLABLE_ID = {"anyOf": [ID, {"type": "null"}]}
CASE_STATE = {
    "type": "object",
    "required": ["id", "number", "status", "org_id", "mediator_id", "risk", "tier", "deadline_at"],
    "properties": {
        "id": ID,
        "number": {"type": ["string", "null"]},
        "status": _enum(str(status) for status in CaseStatus),
        "org_id": ID,
        "mediator_id": NULLABLE_ID,
        "risk": _enum(RISKS),
        "tier": _enum(TIERS),
        "deadline_at": {"anyOf": [INSTANT, {"type": "null"}]},
    },
}


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(SHANGHAI).isoformat()


def case_state(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "number": case.number,
        "status": case.status,
        "org_id": case.org_id,
        "mediator_id": case.mediator_id,
        "risk": case.risk,
        "tier": case.tier,
        "deadline_at": iso(case.deadline_at),
    }


def typed_fields(body: dict[str, Any], operation: Operation) -> dict[str, str]:
    """The body's documented fields as the form strings the checks read; a value of another
    type than documented is left out (and so refused as missing)."""
    data: dict[str, str] = {}
    for name, schema in (operation.properties or {}).items():
        value = body.get(name)
        if schema.get("type") == "integer" and type(value) is int:
            data[name] = str(value)
        elif schema.get("type") == "string" and isinstance(value, str):
            # An over-long value is passed on whole, so the length check sees it.
            data[name] = value if len(value) > REASON_MAX_LENGTH else clean(value)
    return data


def action_handler(name: str, operation: Operation) -> Handler:
    action = ACTIONS[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        principal = current(request)
        principal.require_staff()
        case_id = parse_id(request.match_info["case_id"])
        if case_id is None:
            raise NotFound(CASE_NOT_FOUND)
        body = await read_json(request) if operation.properties is not None else {}
        key = idempotency.key_from(request)
        data = typed_fields(body, operation)
        settings = request.app[settings_key]

        async def run(db: AsyncSession) -> tuple[int, dict[str, Any]]:
            case = await action(db, settings, principal, case_id, data, utcnow())
            return 200, case_state(case)

        request_hash = idempotency.fingerprint("POST", request.path, body)
        stored = await idempotency.run(request.app, principal.key, key, request_hash, run)
        return idempotency.json_response(stored)

    return handler


ROW = {
    "type": "object",
    "required": ["id", "number", "status", "risk", "tier", "dispute_type", "deadline_at"],
    "properties": {
        "id": ID,
        "number": {"type": ["string", "null"]},
        "status": _enum(desk.OPEN_STATES),
        "risk": _enum(RISKS),
        "tier": _enum(TIERS),
        "dispute_type": _enum(DISPUTE_TYPES),
        "deadline_at": {"anyOf": [INSTANT, {"type": "null"}]},
        "overdue": {"type": "boolean"},
        "organisation": {"type": "string"},
        "mediator": {"type": ["string", "null"]},
    },
}
COUNTS = {
    "type": "object",
    "properties": {state: {"type": "integer", "minimum": 0} for state in desk.OPEN_STATES},
}
DASHBOARD = {
    "type": "object",
    "required": ["cases", "counts", "overdue", "total", "page", "pages", "per_page"],
    "properties": {
        "cases": {"type": "array", "items": ROW},
        "counts": COUNTS,
        "overdue": COUNTS,
        "total": {"type": "integer", "minimum": 0},
        "page": PAGE,
        "pages": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "enum": list(desk.PAGE_SIZES)},
    },
}
ALARM = {
    "type": "object",
    "required": ["id", "kind", "level", "case_id", "case_number", "created_at"],
    "properties": {
        "id": ID,
        "kind": {"type": "string"},
        "level": _enum(("info", "warning", "critical")),
        "case_id": NULLABLE_ID,
        "case_number": {"type": ["string", "null"]},
        "created_at": INSTANT,
        "acknowledged_at": {"anyOf": [INSTANT, {"type": "null"}]},
        "data": {"type": "object"},
    },
}


def _row(row: desk.Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "status": row.status,
        "risk": row.risk,
        "tier": row.tier,
        "dispute_type": row.dispute_type,
        "deadline_at": iso(row.deadline_at),
        "overdue": bool(row.overdue),
        "organisation": row.org_name,
        "mediator": row.mediator_name,
    }


async def dashboard(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff("coordinator")
    filters = desk.check_filters(form_dict(request.query))
    page = await desk.dashboard(request.app[sessionmaker_key], principal, filters, utcnow())
    return web.json_response(
        {
            "cases": [_row(row) for row in page.rows],
            "counts": page.counts,
            "overdue": page.overdue,
            "total": page.total,
            "page": filters.page,
            "pages": page.pages,
            "per_page": filters.per_page,
        }
    )


async def alarms(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    principal.require_staff()
    async with request.app[sessionmaker_key]() as db:
        rows = await desk.alarms_for(db, principal)
    return web.json_response(
        {
            "alarms": [
                {
                    "id": row.alarm.id,
                    "kind": row.alarm.kind,
                    "level": row.alarm.level,
                    "case_id": row.alarm.case_id,
                    "case_number": row.case_number,
                    "created_at": iso(row.alarm.created_at),
                    "acknowledged_at": iso(row.alarm.acknowledged_at),
                    "data": row.alarm.data,
                }
                for row in rows
            ]
        }
    )


async def acknowledge(request: web.Request) -> web.StreamResponse:
    return web.json_response({"id": await acknowledged(request), "acknowledged": True})


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _document(app: web.Application) -> None:
    for name, op in OPERATIONS.items():
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "parameters": [path_id("case_id"), IDEMPOTENCY_KEY],
            "responses": {
                "200": json_response(CASE_STATE, "the case after the change"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        }
        if op.properties is not None:
            body = {"type": "object", "required": list(op.required), "properties": op.properties}
            operation["requestBody"] = json_body(body)
        document(app, f"{PREFIX}/cases/{{case_id}}/{name}", "post", operation)
    document(
        app,
        f"{PREFIX}/desk/cases",
        "get",
        {
            "operationId": "listDeskCases",
            "summary": "Open cases of the caller's subtree: overdue first, red first.",
            "parameters": [
                _query("status", _enum(desk.OPEN_STATES)),
                _query("risk", _enum(RISKS)),
                _query("dispute_type", _enum(DISPUTE_TYPES)),
                _query("org_id", ID),
                _query("mediator_id", ID),
                _query("page", PAGE),
                _query("per_page", {"type": "integer", "enum": list(desk.PAGE_SIZES)}),
            ],
            "responses": {
                "200": json_response(DASHBOARD, "one page of the dashboard"),
                **error_responses(403, 422),
            },
        },
    )
    document(
        app,
        f"{PREFIX}/alarms",
        "get",
        {
            "operationId": "listAlarms",
            "summary": "Unacknowledged alarms addressed to the caller (and, for coordinators, "
            "to their organisation).",
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["alarms"],
                        "properties": {"alarms": {"type": "array", "items": ALARM}},
                    },
                    "the alarms",
                ),
                **error_responses(403),
            },
        },
    )
    document(
        app,
        f"{PREFIX}/alarms/{{alarm_id}}/ack",
        "post",
        {
            "operationId": "acknowledgeAlarm",
            "summary": "Acknowledge an alarm (once).",
            "parameters": [path_id("alarm_id")],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["id", "acknowledged"],
                        "properties": {"id": ID, "acknowledged": {"type": "boolean"}},
                    },
                    "acknowledged",
                ),
                **error_responses(403, 404, 409),
            },
        },
    )


def setup(app: web.Application) -> None:
    case = rf"{PREFIX}/cases/{{case_id:\d{{1,9}}}}"
    for name, operation in OPERATIONS.items():
        app.router.add_post(f"{case}/{name}", action_handler(name, operation))
    app.router.add_get(f"{PREFIX}/desk/cases", dashboard)
    app.router.add_get(f"{PREFIX}/alarms", alarms)
    app.router.add_post(rf"{PREFIX}/alarms/{{alarm_id:\d{{1,9}}}}/ack", acknowledge)
    _document(app)
