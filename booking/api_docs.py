"""The OpenAPI description of booking's API operations (served at /api/v1/openapi.json).

Every bound below is the constant its validator checks; tests/test_openapi_document.py holds
them equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from app.forms import (
    ADDRESS_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_MIN_LENGTH,
    NAME_MAX_LENGTH,
)
from app.idempotency import HEADER, MAX_KEY_LENGTH
from app.lifecycle import CaseStatus
from app.openapi import ID, INSTANT, document, error_responses, json_body, json_response, path_id
from app.services import DISPUTE_TYPES
from booking.api import DEFAULT_LIMIT, MAX_LIMIT, MAX_PEOPLE
from booking.forms import EARLIEST_DATE, LATEST_DATE, PARTY_ROLES
from booking.services import BOOKABLE_ROLES, MAX_EXPERTS
from booking.slots import DEFAULT_MINUTES, LENGTHS, MAX_SEARCH_DAYS

IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes retries safe: the same key with the same body answers with the first response "
        "(header Idempotent-Replayed: true); the same key with another body is a 422. "
        "Only successful answers are kept."
    ),
    # Printable ASCII; surrounding spaces would be trimmed, so the schema leaves them out.
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
}
DATE = {
    "type": "string",
    "format": "date",
    "description": f"YYYY-MM-DD, from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}",
    "example": "2026-11-20",
}
MINUTES = {"type": "integer", "enum": list(LENGTHS), "default": DEFAULT_MINUTES}
DISPUTE_TYPE = {"type": "string", "enum": list(DISPUTE_TYPES)}
PARTY = {
    "type": "object",
    "required": ["name", "phone"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH},
        "phone": {"type": "string", "description": "11-digit mainland mobile number"},
        "id_number": {
            "type": "string",
            "description": "18-character resident ID (GB 11643); optional, checked when given",
        },
        "address": {"type": "string", "maxLength": ADDRESS_MAX_LENGTH},
    },
}
NEW_CASE = {
    "type": "object",
    "required": ["org_id", "dispute_type", "description", *PARTY_ROLES],
    "properties": {
        "org_id": {**ID, "description": "the caller's organisation or one below it"},
        "dispute_type": DISPUTE_TYPE,
        "description": {
            "type": "string",
            "minLength": DESCRIPTION_MIN_LENGTH,
            "maxLength": DESCRIPTION_MAX_LENGTH,
        },
        **{role: PARTY for role in PARTY_ROLES},
    },
}
CASE = {
    "type": "object",
    "required": ["id", "status", "org_id", "dispute_type"],
    "properties": {
        "id": ID,
        "status": {"type": "string", "enum": [str(status) for status in CaseStatus]},
        "org_id": ID,
        "dispute_type": DISPUTE_TYPE,
    },
}
MEDIATOR = {
    "type": "object",
    "required": ["id", "name", "role", "org"],
    "properties": {
        "id": ID,
        "name": {"type": "string"},
        "role": {"type": "string", "enum": list(BOOKABLE_ROLES)},
        "org": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": ID, "name": {"type": "string"}},
        },
    },
}
SLOT = {
    "type": "object",
    "required": ["starts_at", "ends_at"],
    "properties": {"starts_at": INSTANT, "ends_at": INSTANT},
}
SLOTS = {
    "type": "object",
    "required": ["mediator_id", "from", "to", "minutes", "slots"],
    "properties": {
        "mediator_id": ID,
        "from": DATE,
        "to": DATE,
        "minutes": MINUTES,
        "slots": {"type": "array", "items": SLOT},
    },
}
NEW_APPOINTMENT = {
    "type": "object",
    "required": ["case_id", "mediator_id", "starts_at"],
    "properties": {
        "case_id": ID,
        "mediator_id": ID,
        "starts_at": {
            **INSTANT,
            "description": (
                "on :00 or :30, in the future, inside the mediator's availability; without an "
                f"offset read as Asia/Shanghai; from {EARLIEST_DATE.isoformat()} "
                f"to {LATEST_DATE.isoformat()}"
            ),
        },
        "minutes": MINUTES,
        "expert_ids": {
            "type": "array",
            "items": ID,
            "maxItems": MAX_EXPERTS,
            "description": "a panel (专家会诊): every member is claimed, or none",
        },
    },
}
APPOINTMENT = {
    "type": "object",
    "required": [
        "id",
        "case_id",
        "mediator_id",
        "mediator_name",
        "experts",
        "starts_at",
        "ends_at",
        "minutes",
        "status",
        "sequence",
    ],
    "properties": {
        "id": ID,
        "case_id": ID,
        "mediator_id": ID,
        "mediator_name": {"type": "string"},
        "experts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": ID, "name": {"type": "string"}},
            },
        },
        "starts_at": INSTANT,
        "ends_at": INSTANT,
        "minutes": MINUTES,
        "status": {"type": "string", "enum": ["booked", "cancelled", "done", "no_show"]},
        "sequence": {
            "type": "integer",
            "minimum": 0,
            "description": "the calendar file's SEQUENCE: bumped on every change",
        },
    },
}
FOUND_SLOT = {
    "type": "object",
    "required": ["starts_at", "ends_at", "staff_ids"],
    "properties": {
        "starts_at": INSTANT,
        "ends_at": INSTANT,
        "staff_ids": {"type": "array", "items": ID, "description": "the person, or the panel"},
        "local_starts_at": {**INSTANT, "description": "the start in the `tz` asked for"},
    },
}
FOUND_SLOTS = {
    "type": "object",
    "required": ["from", "to", "minutes", "together", "slots"],
    "properties": {
        "from": DATE,
        "to": DATE,
        "minutes": MINUTES,
        "together": {"type": "boolean"},
        "slots": {"type": "array", "items": FOUND_SLOT},
    },
}


def _query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


SLOT_QUERY = [
    _query("from", DATE, "first day (Asia/Shanghai); default today"),
    _query("to", DATE, f"last day; default `from`; at most {MAX_SEARCH_DAYS} days"),
    _query("minutes", MINUTES, "length of the slot"),
    _query(
        "staff",
        {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
        f"comma-separated ids (at most {MAX_PEOPLE}); default every bookable person of the "
        "caller's organisation and those below it",
    ),
    _query("together", {"type": "boolean", "default": False}, "all of `staff` at once (a panel)"),
    _query(
        "limit",
        # No "maximum": in this document integers bounded by a maximum are ids.
        {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
        f"how many slots, earliest first (at most {MAX_LIMIT})",
    ),
    _query(
        "tz",
        {"type": "string", "maxLength": 64, "example": "Europe/Berlin"},
        "an IANA zone: each slot also gives its start there (a party abroad)",
    ),
]
RESCHEDULE = {
    "type": "object",
    "required": ["starts_at"],
    "properties": {"starts_at": NEW_APPOINTMENT["properties"]["starts_at"]},  # type: ignore[index]
}


REPLACE_EXPERT = {
    "type": "object",
    "required": ["old_id", "new_id"],
    "properties": {"old_id": ID, "new_id": ID},
}


def _change(operation_id: str, summary: str, body: bool = False) -> dict[str, object]:
    operation: dict[str, object] = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [path_id("appointment_id")],
        "responses": {
            "200": json_response(APPOINTMENT, "the appointment as it is now"),
            **error_responses(400, 403, 404, 409, 413, 422),
        },
    }
    if body:
        operation["requestBody"] = json_body(RESCHEDULE)
    return operation


def setup(app: web.Application) -> None:
    document(
        app,
        "/api/v1/cases",
        "post",
        {
            "operationId": "createCase",
            "summary": (
                "File a walk-in application (coordinators and admins); "
                "the older form of POST /api/v1/applications."
            ),
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_CASE),
            "responses": {
                "201": json_response(CASE, "the application was stored"),
                **error_responses(400, 403, 413, 422),
            },
        },
    )
    document(
        app,
        "/api/v1/mediators",
        "get",
        {
            "operationId": "listMediators",
            "summary": "Mediators and experts of the caller's organisation and those below it.",
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["mediators"],
                        "properties": {"mediators": {"type": "array", "items": MEDIATOR}},
                    },
                    "the mediators",
                ),
                **error_responses(403),
            },
        },
    )
    document(
        app,
        "/api/v1/mediators/{mediator_id}/slots",
        "get",
        {
            "operationId": "listFreeSlots",
            "summary": (
                f"Free start times of one mediator (Asia/Shanghai days, at most {MAX_SEARCH_DAYS})."
            ),
            "parameters": [
                path_id("mediator_id"),
                {
                    "name": "from",
                    "in": "query",
                    "required": False,
                    "schema": {**DATE, "description": f"{DATE['description']}; default today"},
                },
                {
                    "name": "to",
                    "in": "query",
                    "required": False,
                    "schema": {**DATE, "description": f"{DATE['description']}; default `from`"},
                },
                {"name": "minutes", "in": "query", "required": False, "schema": MINUTES},
            ],
            "responses": {
                "200": json_response(SLOTS, "the free slots"),
                **error_responses(403, 404, 422),
            },
        },
    )
    document(
        app,
        "/api/v1/appointments",
        "post",
        {
            "operationId": "createAppointment",
            "summary": "Book a mediator for a registered case; invites every party by SMS.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_APPOINTMENT),
            "responses": {
                "201": json_response(APPOINTMENT, "the appointment was booked"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        },
    )
    document(
        app,
        "/api/v1/slots",
        "get",
        {
            "operationId": "searchSlots",
            "summary": "Earliest free slots for any of these people, or for a whole panel.",
            "parameters": SLOT_QUERY,
            "responses": {
                "200": json_response(FOUND_SLOTS, "the earliest free slots"),
                **error_responses(403, 404, 422),
            },
        },
    )
    base = "/api/v1/appointments/{appointment_id}"
    document(
        app,
        f"{base}/reschedule",
        "post",
        _change("rescheduleAppointment", "Move an appointment, keeping its people.", body=True),
    )
    document(app, f"{base}/cancel", "post", _change("cancelAppointment", "Cancel an appointment."))
    document(
        app,
        f"{base}/experts",
        "post",
        {
            **_change(
                "replacePanelExpert",
                "Replace one expert of a panel (专家会诊); the rest and the time stay.",
            ),
            "requestBody": json_body(REPLACE_EXPERT),
        },
    )
    document(
        app,
        f"{base}/no-show",
        "post",
        _change("markNoShow", "Mark an appointment that has begun as missed."),
    )
