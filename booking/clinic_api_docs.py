"""The OpenAPI description of the appointment clinic's operations (booking/clinic_api.py).
Every bound is the constant its validator checks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.forms import NAME_MAX_LENGTH
from app.openapi import ID, INSTANT, document, error_responses, json_body, json_response, path_id
from booking.api_docs import IDEMPOTENCY_KEY
from booking.clinic import KINDS, MAX_CAPACITY, PLACE_LENGTHS
from booking.clinic_api import TOPIC_MAX_LENGTH

# ("maximum" marks ids in this document: the bound is stated in words.)
CAPACITY = {"type": "integer", "minimum": 1, "description": f"at most {MAX_CAPACITY}"}
PHONE = {"type": "string", "description": "11-digit mainland mobile number"}
SESSION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "kind", "staff", "org", "starts_at", "ends_at", "capacity", "free"],
    "properties": {
        "id": ID,
        "kind": {"type": "string", "enum": list(KINDS)},
        "topic": {"type": "string"},
        "staff": {"type": "object", "properties": {"id": ID, "name": {"type": "string"}}},
        "org": {"type": "object", "properties": {"id": ID, "name": {"type": "string"}}},
        "starts_at": INSTANT,
        "ends_at": INSTANT,
        "place_minutes": {"type": "integer", "enum": list(PLACE_LENGTHS)},
        "capacity": CAPACITY,
        "free": {"type": "integer", "minimum": 0},
    },
}
NEW_SESSION = {
    "type": "object",
    "required": ["staff_id", "kind", "starts_at", "capacity"],
    "properties": {
        "staff_id": {**ID, "description": "an expert or mediator of the caller's organisations"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "starts_at": {**INSTANT, "description": "on the hour or the half hour, in the future"},
        "capacity": CAPACITY,
        "place_minutes": {
            "type": "integer",
            "enum": list(PLACE_LENGTHS),
            "default": 20,
            "description": "one consultation's length; 0: everyone from the start",
        },
        "minutes": {
            "type": "integer",
            "default": 120,
            "description": "the session's length when place_minutes is 0 (at most 480)",
        },
        "topic": {"type": "string", "maxLength": TOPIC_MAX_LENGTH},
    },
}
PLACE = {
    "type": "object",
    "required": ["id", "session_id", "place", "starts_at", "status"],
    "properties": {
        "id": ID,
        "session_id": ID,
        "place": {"type": ["integer", "null"], "minimum": 1, "description": "null once cancelled"},
        "starts_at": INSTANT,
        "status": {"type": "string", "enum": ["booked", "cancelled"]},
    },
}
NEW_PLACE = {
    "type": "object",
    "required": ["session_id", "name", "phone", "phone_code"],
    "properties": {
        "session_id": ID,
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH},
        "phone": PHONE,
        "phone_code": {"type": "string", "description": "from POST /api/v1/clinic/codes"},
    },
}
MESSAGE = {"type": "object", "properties": {"message": {"type": "string"}}}


def setup(app: web.Application) -> None:
    base = "/api/v1/clinic"
    sessions = {"type": "object", "properties": {"sessions": {"type": "array", "items": SESSION}}}
    document(
        app,
        f"{base}/sessions",
        "get",
        {
            "operationId": "listDutySessions",
            "summary": "Duty sessions not yet begun, with their free places (public).",
            "responses": {"200": json_response(sessions, "the sessions"), **error_responses()},
        },
    )
    document(
        app,
        f"{base}/sessions",
        "post",
        {
            "operationId": "createDutySession",
            "summary": "Schedule a duty lawyer's or judge's session (coordinators and admins).",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_SESSION),
            "responses": {
                "201": json_response(SESSION, "the session"),
                **error_responses(400, 403, 413, 422),
            },
        },
    )
    listing = {
        "type": "object",
        "properties": {
            "session": SESSION,
            "places": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "place": {"type": "integer"},
                        "starts_at": INSTANT,
                        "name": {"type": "string"},
                        "phone": {"type": "string", "description": "masked"},
                    },
                },
            },
        },
    }
    document(
        app,
        f"{base}/sessions/{{session_id}}/places",
        "get",
        {
            "operationId": "listDutyPlaces",
            "summary": "A session's booked places (its duty staff member and staff above).",
            "parameters": [path_id("session_id")],
            "responses": {"200": json_response(listing, "the list"), **error_responses(403, 404)},
        },
    )
    phone = {"type": "object", "required": ["phone"], "properties": {"phone": PHONE}}
    document(
        app,
        f"{base}/codes",
        "post",
        {
            "operationId": "requestDutyPlaceCode",
            "summary": "Text a code to the phone that will hold the place (public).",
            "requestBody": json_body(phone),
            "responses": {
                "202": json_response(MESSAGE, "the code was texted"),
                **error_responses(400, 413, 422, 429),
            },
        },
    )
    document(
        app,
        f"{base}/places",
        "post",
        {
            "operationId": "bookDutyPlace",
            "summary": (
                "Take a place in a duty session (public, with the SMS code); the link to "
                "cancel is texted, never answered."
            ),
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_PLACE),
            "responses": {
                "201": json_response(PLACE, "the place"),
                **error_responses(400, 404, 409, 413, 422),
            },
        },
    )
    token = {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {
                "type": "string",
                "minLength": 16,
                "maxLength": 128,
                "description": "the last part of the link in the SMS",
            }
        },
    }
    document(
        app,
        f"{base}/cancellations",
        "post",
        {
            "operationId": "cancelDutyPlace",
            "summary": "Cancel a place by its link's token (public); the place is free again.",
            "requestBody": json_body(token),
            "responses": {
                "200": json_response(PLACE, "the cancelled place"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        },
    )
