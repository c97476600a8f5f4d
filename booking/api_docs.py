"""The OpenAPI description of booking's API operations (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.openapi import document, error_responses

_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes retries safe: the same key with the same body answers with the first response "
        "(header Idempotent-Replayed: true); the same key with another body is a 422. "
        "Only successful answers are kept."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_DATE = {"type": "string", "format": "date", "example": "2026-11-20"}
_INSTANT = {"type": "string", "format": "date-time", "example": "2026-11-20T09:00:00+08:00"}
_PARTY = {
    "type": "object",
    "required": ["name", "phone", "id_number"],
    "properties": {
        "name": {"type": "string", "maxLength": 64},
        "phone": {"type": "string", "description": "11-digit mainland mobile number"},
        "id_number": {"type": "string", "description": "18-character resident ID (GB 11643)"},
        "address": {"type": "string", "maxLength": 200},
    },
}
_MEDIATOR = {
    "type": "object",
    "properties": {
        "id": _ID,
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["mediator", "expert"]},
        "org": {"type": "object", "properties": {"id": _ID, "name": {"type": "string"}}},
    },
}
_SLOT = {"type": "object", "properties": {"starts_at": _INSTANT, "ends_at": _INSTANT}}
_APPOINTMENT = {
    "type": "object",
    "properties": {
        "id": _ID,
        "case_id": _ID,
        "mediator_id": _ID,
        "mediator_name": {"type": "string"},
        "starts_at": _INSTANT,
        "ends_at": _INSTANT,
        "minutes": {"type": "integer"},
        "status": {"type": "string", "enum": ["booked", "cancelled", "done"]},
        "invitations_sent": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def setup(app: web.Application) -> None:
    document(
        app,
        "/api/v1/cases",
        "post",
        {
            "operationId": "createCase",
            "summary": "File a mediation application (coordinators and admins).",
            "parameters": [_IDEMPOTENCY],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["org_id", "dispute_type", "description"],
                    "properties": {
                        "org_id": _ID,
                        "dispute_type": {"type": "string", "example": "neighbour"},
                        "description": {"type": "string", "minLength": 10, "maxLength": 4000},
                        "applicant": _PARTY,
                        "respondent": _PARTY,
                    },
                }
            ),
            "responses": {
                "201": _json(
                    {
                        "type": "object",
                        "properties": {
                            "id": _ID,
                            "status": {"type": "string"},
                            "org_id": _ID,
                            "dispute_type": {"type": "string"},
                        },
                    },
                    "the application was stored",
                ),
                **error_responses(400, 401, 403, 422),
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
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"mediators": {"type": "array", "items": _MEDIATOR}},
                    },
                    "the mediators",
                ),
                **error_responses(401, 403),
            },
        },
    )
    document(
        app,
        "/api/v1/mediators/{mediator_id}/slots",
        "get",
        {
            "operationId": "listFreeSlots",
            "summary": "Free start times of one mediator (Asia/Shanghai days, at most 31).",
            "parameters": [
                {"name": "mediator_id", "in": "path", "required": True, "schema": _ID},
                {"name": "from", "in": "query", "required": False, "schema": _DATE},
                {"name": "to", "in": "query", "required": False, "schema": _DATE},
                {
                    "name": "minutes",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "multipleOf": 30, "default": 60},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "mediator_id": _ID,
                            "from": _DATE,
                            "to": _DATE,
                            "minutes": {"type": "integer"},
                            "slots": {"type": "array", "items": _SLOT},
                        },
                    },
                    "the free slots",
                ),
                **error_responses(401, 403, 404, 422),
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
            "parameters": [_IDEMPOTENCY],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["case_id", "mediator_id", "starts_at"],
                    "properties": {
                        "case_id": _ID,
                        "mediator_id": _ID,
                        "starts_at": {
                            **_INSTANT,
                            "description": "on :00 or :30; without an offset read as Asia/Shanghai",
                        },
                        "minutes": {"type": "integer", "multipleOf": 30, "default": 60},
                    },
                }
            ),
            "responses": {
                "201": _json(_APPOINTMENT, "the appointment was booked"),
                **error_responses(400, 401, 403, 404, 409, 422),
            },
        },
    )
