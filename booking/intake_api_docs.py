"""The OpenAPI description of intake's operations: applications, evidence, progress lookup.
Bounds come from the constants the validators check."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.forms import (
    ADDRESS_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_MIN_LENGTH,
    NAME_MAX_LENGTH,
)
from app.lifecycle import CaseStatus
from app.models import CHANNELS, PARTY_KINDS
from app.openapi import ID as ID_SCHEMA
from app.openapi import INSTANT, document, error_responses, json_body, json_response, path_id
from booking.api_docs import DISPUTE_TYPE, IDEMPOTENCY_KEY
from booking.evidence import CONTENT_TYPES, FILE_KINDS
from booking.intake import AUTHORITIES, MAX_AGENTS, MAX_PER_SIDE, SIDES
from booking.intake_forms import MAX_LIST

PUBLIC: dict[str, Any] = {"security": [{}, {"bearer": []}]}
TEXT = {"type": "string"}
NAME = {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH}
PHONE = {"type": "string", "description": "11-digit mainland mobile number"}
PARTY = {
    "type": "object",
    "required": ["side", "name", "phone"],
    "properties": {
        "side": {"type": "string", "enum": list(SIDES)},
        "kind": {"type": "string", "enum": list(PARTY_KINDS), "default": "person"},
        "name": NAME,
        "phone": PHONE,
        "id_number": {
            "type": "string",
            "description": "a person's resident ID (GB 11643), optional",
        },
        "credit_code": {
            "type": "string",
            "description": "an organisation's unified social credit code (GB 32100), optional",
        },
        "representative": {
            **NAME,
            "minLength": 0,
            "description": "an organisation's legal representative",
        },
        "address": {"type": "string", "maxLength": ADDRESS_MAX_LENGTH},
    },
}
AGENT = {
    "type": "object",
    "required": ["party", "name", "phone", "authority"],
    "properties": {
        "party": {"type": "integer", "minimum": 0, "description": "index into `parties`"},
        "name": NAME,
        "phone": PHONE,
        "authority": {"type": "string", "enum": list(AUTHORITIES)},
    },
}
MEMBER = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": NAME,
        "phone": PHONE,
        "address": {"type": "string", "maxLength": ADDRESS_MAX_LENGTH},
    },
}
NEW_APPLICATION = {
    "type": "object",
    "required": ["org_id", "dispute_type", "description", "parties"],
    "properties": {
        "org_id": ID_SCHEMA,
        "dispute_type": DISPUTE_TYPE,
        "description": {
            "type": "string",
            "minLength": DESCRIPTION_MIN_LENGTH,
            "maxLength": DESCRIPTION_MAX_LENGTH,
        },
        "channel": {
            "type": "string",
            "enum": list(CHANNELS),
            "description": "online for the public (default); walk_in (default) or grid for staff",
        },
        "preferred_mediator_id": {
            **ID_SCHEMA,
            "description": "an active mediator of org_id's tree",
        },
        "parties": {
            "type": "array",
            "items": PARTY,
            "minItems": 2,
            "maxItems": 2 * MAX_PER_SIDE,
            "description": f"at least one per side, at most {MAX_PER_SIDE} per side; the first "
            "applicant's phone receives the code and the receipt",
        },
        "agents": {"type": "array", "items": AGENT, "maxItems": MAX_AGENTS},
        "group_members": {"type": "array", "items": MEMBER, "maxItems": MAX_LIST},
        "phone_code": {
            "type": "string",
            "description": "without a staff token: the SMS code sent to the first applicant "
            "(request it on the /apply page)",
        },
    },
}
APPLICATION = {
    "type": "object",
    "required": ["id", "status", "org_id", "dispute_type", "channel", "receipt"],
    "properties": {
        "id": ID_SCHEMA,
        "status": {"type": "string", "enum": [str(s) for s in CaseStatus]},
        "org_id": ID_SCHEMA,
        "dispute_type": DISPUTE_TYPE,
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "receipt": {"type": "string", "pattern": "^R[A-Z2-7]{10}$"},
        "parties": {"type": "integer"},
        "group_members": {"type": "integer"},
    },
}
EVIDENCE = {
    "type": "object",
    "required": ["id", "case_id", "filename", "content_type", "size", "sha256", "mine", "url"],
    "properties": {
        "id": ID_SCHEMA,
        "case_id": ID_SCHEMA,
        "filename": TEXT,
        "content_type": {"type": "string", "enum": list(CONTENT_TYPES)},
        "size": {"type": "integer", "minimum": 1},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "mine": {"type": "boolean"},
        "uploaded_by": {"type": "string", "enum": ["party", "staff"]},
        "created_at": INSTANT,
        "url": TEXT,
        "kind": {"type": "string", "enum": list(FILE_KINDS)},
    },
}
LOOKUP = {
    "type": "object",
    "required": ["reference", "phone"],
    "properties": {
        "reference": {"type": "string", "maxLength": 64, "description": "case or receipt number"},
        "phone": PHONE,
        "code": {"type": "string", "description": "the SMS code (POST /api/v1/lookup only)"},
    },
}
PROGRESS = {
    "type": "object",
    "required": ["status", "status_label", "next_step", "timeline"],
    "properties": {
        "number": {"type": ["string", "null"]},
        "receipt": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": [str(s) for s in CaseStatus]},
        "status_label": TEXT,
        "deadline_at": {**INSTANT, "type": ["string", "null"]},
        "next_step": TEXT,
        "timeline": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["at", "kind", "label"],
                "properties": {"at": INSTANT, "kind": TEXT, "label": TEXT},
            },
        },
    },
}
EVIDENCE_PATH = "/api/v1/cases/{case_id}/evidence"


def setup(app: web.Application) -> None:
    document(
        app,
        "/api/v1/applications",
        "post",
        {
            **PUBLIC,
            "operationId": "createApplication",
            "summary": (
                "Apply for mediation: the public with an SMS code (channel online), or staff "
                "with a token for walk-in and grid applications. Texts the receipt number."
            ),
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_APPLICATION),
            "responses": {
                "201": json_response(APPLICATION, "the application was stored"),
                **error_responses(400, 403, 409, 413, 422),
            },
        },
    )
    document(
        app,
        "/api/v1/applications/codes",
        "post",
        {
            **PUBLIC,
            "operationId": "requestApplicationCode",
            "summary": "Texts the SMS code an online application carries as `phone_code`.",
            "requestBody": json_body(
                {"type": "object", "required": ["phone"], "properties": {"phone": PHONE}}
            ),
            "responses": {
                "202": json_response({"type": "object", "properties": {"message": TEXT}}, "sent"),
                **error_responses(400, 413, 422, 429),
            },
        },
    )
    document(
        app,
        EVIDENCE_PATH,
        "post",
        {
            "operationId": "uploadEvidence",
            "summary": "Upload one JPEG, PNG, WebP or PDF file (field `file`), checked by content.",
            "parameters": [path_id("case_id"), IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "kind": {
                                    "type": "string",
                                    "enum": list(FILE_KINDS),
                                    "description": "evidence (default), identity document "
                                    "or power of attorney",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": json_response(EVIDENCE, "the file was stored"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        },
    )
    document(
        app,
        EVIDENCE_PATH,
        "get",
        {
            "operationId": "listEvidence",
            "summary": "The case's evidence the caller may see (staff: all of it).",
            "parameters": [path_id("case_id")],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["evidence"],
                        "properties": {"evidence": {"type": "array", "items": EVIDENCE}},
                    },
                    "the evidence",
                ),
                **error_responses(404),
            },
        },
    )
    document(
        app,
        EVIDENCE_PATH + "/{evidence_id}",
        "get",
        {
            "operationId": "downloadEvidence",
            "summary": "The file itself, as an attachment (Content-Disposition, nosniff).",
            "parameters": [path_id("case_id"), path_id("evidence_id")],
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {
                        t: {"schema": {"type": "string", "format": "binary"}} for t in CONTENT_TYPES
                    },
                },
                **error_responses(404),
            },
        },
    )
    document(
        app,
        "/api/v1/lookup/codes",
        "post",
        {
            **PUBLIC,
            "operationId": "requestLookupCode",
            "summary": (
                "Texts a code to the phone if it belongs to a party of that case; the answer "
                "is the same either way."
            ),
            "requestBody": json_body(LOOKUP),
            "responses": {
                "202": json_response(
                    {"type": "object", "properties": {"message": TEXT}}, "accepted"
                ),
                **error_responses(400, 413, 422, 429),
            },
        },
    )
    document(
        app,
        "/api/v1/lookup",
        "post",
        {
            **PUBLIC,
            "operationId": "lookUpProgress",
            "summary": "Progress of a case (进度查询) by case or receipt number, phone and code.",
            "requestBody": json_body(LOOKUP),
            "responses": {
                "200": json_response(PROGRESS, "where the case stands"),
                **error_responses(400, 413, 422, 429),
            },
        },
    )
