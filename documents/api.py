"""Court-facing JSON API: the judicial-confirmation inbox and rulings, and their OpenAPI description
(bounds from the constants the validators check)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.auth import current
from app.case_status import announce_case_status
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import TEXT, clean, parse_id, read_json
from app.i18n import N_
from app.models import PARTY_ROLES
from app.openapi import ID, document, error_responses, json_body, json_response, path_id
from documents import court

NO_SUCH_FILING = N_("This filing does not exist or you may not see it.")


def _item(item: court.InboxItem) -> dict[str, Any]:
    f = item.filing
    return {
        "id": f.id,
        "status": f.status,
        "filed_at": f.filed_at.isoformat(),
        "decided_at": f.decided_at.isoformat() if f.decided_at else None,
        "decision_note": f.decision_note,
        "case": {
            "id": item.case.id,
            "number": item.case.number,
            "dispute_type": item.case.dispute_type,
        },
        "parties": [
            {"name": p.name, "role": p.role, "id_masked": p.id_masked} for p in item.parties
        ],
        "pdf_url": f"/agreements/{f.agreement_id}/pdf",
    }


async def inbox(request: web.Request) -> web.Response:
    async with request.app[sessionmaker_key]() as db:
        items = await court.inbox(db, current(request))
    return web.json_response({"filings": [_item(i) for i in items]})


def ruling_json(body: dict[str, Any]) -> tuple[str, str]:
    """{decision, note} → (decision, note); wrong types are field errors. Whether the pair makes
    a valid ruling (a reason to dismiss, the note's length) is do_decide's to say."""
    errors: dict[str, str] = {}
    decision, note = body.get("decision"), body.get("note", "")
    if not isinstance(decision, str) or clean(decision) not in court.DECISIONS:
        errors["decision"] = N_("Please choose confirm or dismiss.")
    if not isinstance(note, str):
        errors["note"] = TEXT
    if errors or not isinstance(decision, str) or not isinstance(note, str):
        raise ValidationFailed(errors)
    return clean(decision), clean(note)


async def decide(request: web.Request) -> web.Response:
    principal = current(request)
    court.require_clerk(principal)
    filing_id = parse_id(request.match_info["filing_id"])
    if filing_id is None:
        raise NotFound(NO_SUCH_FILING)
    decision, note = ruling_json(await read_json(request))
    async with transaction(request.app) as db:
        filing = await court.load_filing(db, principal, filing_id)
        await court.do_decide(db, principal, filing, decision, note)
        status = filing.status
    await announce_case_status(request.app, filing.case_id, status)
    return web.json_response({"id": filing.id, "status": status})


_MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
FILING = {
    "type": "object",
    "required": [
        "id",
        "status",
        "filed_at",
        "decided_at",
        "decision_note",
        "case",
        "parties",
        "pdf_url",
    ],
    "properties": {
        "id": ID,
        "status": {"type": "string", "enum": ["filed", *court.DECISIONS]},
        "filed_at": {"type": "string", "format": "date-time"},
        "decided_at": _MAYBE_INSTANT,
        "decision_note": {"type": ["string", "null"]},
        "case": {
            "type": "object",
            "required": ["id", "number", "dispute_type"],
            "properties": {
                "id": ID,
                "number": {"type": ["string", "null"]},
                "dispute_type": {"type": "string"},
            },
        },
        "parties": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "role", "id_masked"],
                "properties": {
                    "name": {"type": "string"},
                    "role": {"type": "string", "enum": list(PARTY_ROLES)},
                    "id_masked": {"type": "string"},
                },
            },
        },
        "pdf_url": {"type": "string", "description": "sealed PDF (same bearer token)"},
    },
}
RULING = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": list(court.DECISIONS)},
        "note": {
            "type": "string",
            "maxLength": court.NOTE_MAX_LENGTH,
            "description": "required to dismiss",
        },
    },
}
RULED = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {
        "id": ID,
        "status": {"type": "string", "enum": list(court.DECISIONS)},
    },
}


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/court/inbox", inbox)
    app.router.add_post(r"/api/v1/court/filings/{filing_id:\d{1,9}}/decision", decide)
    document(
        app,
        "/api/v1/court/inbox",
        "get",
        {
            "operationId": "courtInbox",
            "summary": "Judicial-confirmation applications filed with the clerk's court.",
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["filings"],
                        "properties": {"filings": {"type": "array", "items": FILING}},
                    },
                    "undecided first, then newest first",
                ),
                **error_responses(403),
            },
        },
    )
    document(
        app,
        "/api/v1/court/filings/{filing_id}/decision",
        "post",
        {
            "operationId": "decideFiling",
            "summary": "Rule on an application once: confirm, or dismiss with a reason.",
            "parameters": [path_id("filing_id")],
            "requestBody": json_body(RULING),
            "responses": {
                "200": json_response(RULED, "the ruling was recorded"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        },
    )
