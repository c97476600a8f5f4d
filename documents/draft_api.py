"""The current draft of a case's agreement as JSON, for the room (issue 8 shows it live) and
integrations: the exact text, its version and hash, and where signing stands."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key
from app.errors import NotFound
from app.forms import parse_id, read_json
from app.i18n import N_
from app.openapi import ID, INSTANT, document, error_responses, json_body, json_response, path_id
from app.policy import CASE_NOT_FOUND, load_case
from booking.api_docs import IDEMPOTENCY_KEY
from documents import ceremony, review, services
from documents.amounts import uppercase
from documents.models import Agreement, ChangeRequest

NO_DRAFT = N_("There is no agreement draft to comment on yet.")

STATUSES = ("signing", "sealing", "effective")


async def _signers(db: AsyncSession, agreement: Agreement) -> list[dict[str, Any]]:
    signatures = await services.signatures_of(db, agreement.id)
    declines = await ceremony.declines_of(db, agreement.id)
    return [
        {
            "key": key,
            "name": services.signer_name(agreement, key),
            "signed_at": signatures[key].signed_at.isoformat() if key in signatures else None,
            "declined_reason": declines[key].reason if key in declines else None,
        }
        for key in services.signer_keys(agreement)
    ]


def _requests(agreement: Agreement, rows: list[ChangeRequest]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "clause": r.clause,
            "text": r.text,
            "requester": services.signer_name(agreement, r.requester),
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def terms_view(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Each term as people read it: its text, and for a structured term the amount with its
    uppercase form (大写), payer and payee by name, deadline and manner, as the PDF prints."""
    names = {p["id"]: p["name"] for p in content.get("parties", [])}
    details = content.get("term_details", [])
    view = []
    for n, text in enumerate(content.get("terms", [])):
        term: dict[str, Any] = {"clause": n + 1, "text": text}
        if n < len(details):
            d = details[n]
            amount = d.get("amount")
            term.update(
                amount=amount,
                amount_upper=uppercase(amount) if amount is not None else None,
                payer=names.get(d.get("payer")),
                payee=names.get(d.get("payee")),
                deadline=d.get("deadline"),
                manner=d.get("manner") or None,
            )
        view.append(term)
    return view


async def current_draft(request: web.Request) -> web.Response:
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise NotFound(CASE_NOT_FOUND)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, current(request), case_id)
        agreement = await services.current_agreement(db, case.id)
        if agreement is None:
            return web.json_response({"case_id": case.id, "agreement": None})
        signers = await _signers(db, agreement)
        changes = _requests(agreement, await review.requests_of(db, agreement.id))
    body = {
        "id": agreement.id,
        "version": agreement.version,
        "version_hash": agreement.version_hash,
        "status": agreement.status,
        "created_at": agreement.created_at.isoformat(),
        "content": agreement.content,
        "terms": terms_view(agreement.content),
        "signers": signers,
        "change_requests": changes,
    }
    headers = {"Cache-Control": "private, no-store"}
    return web.json_response({"case_id": case.id, "agreement": body}, headers=headers)


_MAYBE_TEXT = {"type": ["string", "null"]}
SIGNER = {
    "type": "object",
    "required": ["key", "name", "signed_at", "declined_reason"],
    "properties": {
        "key": {"type": "string", "example": "party:7"},
        "name": {"type": "string"},
        "signed_at": {**INSTANT, "type": ["string", "null"]},
        "declined_reason": _MAYBE_TEXT,
    },
}
CHANGE_REQUEST = {
    "type": "object",
    "required": ["id", "clause", "text", "requester", "created_at"],
    "properties": {
        "id": ID,
        "clause": {"type": "integer", "minimum": 1},
        "text": {"type": "string"},
        "requester": {"type": "string"},
        "created_at": INSTANT,
    },
}
NEW_CHANGE_REQUEST = {
    "type": "object",
    "required": ["version_hash", "clause", "text"],
    "properties": {
        "version_hash": {"type": "string", "description": "the version the party is reading"},
        "clause": {"type": "integer", "minimum": 1, "description": "the term's number"},
        "text": {"type": "string", "minLength": 2, "maxLength": review.MAX_TEXT},
    },
}
_MAYBE = {"type": ["string", "null"]}
TERM = {
    "type": "object",
    "required": ["clause", "text"],
    "properties": {
        "clause": {"type": "integer", "minimum": 1},
        "text": {"type": "string"},
        "amount": {**_MAYBE, "description": "yuan, two decimals"},
        "amount_upper": {**_MAYBE, "description": "the amount in uppercase (大写)"},
        "payer": _MAYBE,
        "payee": _MAYBE,
        "deadline": {**_MAYBE, "format": "date"},
        "manner": _MAYBE,
    },
}
DRAFT = {
    "type": "object",
    "required": ["case_id", "agreement"],
    "properties": {
        "case_id": ID,
        "agreement": {
            "type": ["object", "null"],
            "required": ["id", "version", "version_hash", "status", "created_at", "content"],
            "properties": {
                "id": ID,
                "version": {"type": "integer", "minimum": 1},
                "version_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "status": {"type": "string", "enum": list(STATUSES)},
                "created_at": INSTANT,
                "content": {
                    "type": "object",
                    "description": "the text as signed: parties, facts, terms, performance",
                },
                "terms": {"type": "array", "items": TERM},
                "signers": {"type": "array", "items": SIGNER},
                "change_requests": {"type": "array", "items": CHANGE_REQUEST},
            },
        },
    },
}


async def request_change(request: web.Request) -> web.StreamResponse:
    """A party asks for a change on clause N of the version shown (JSON)."""
    principal = current(request)
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise NotFound(CASE_NOT_FOUND)
    body = await read_json(request)
    change = review.check_change(body)

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        case = await load_case(db, principal, case_id)
        agreement = await services.current_agreement(db, case.id)
        if agreement is None:
            raise NotFound(NO_DRAFT)
        row = await review.do_request_change(db, principal, agreement, change)
        return 201, _requests(agreement, [row])[0]

    key = idempotency.key_from(request)
    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(request.app, principal.key, key, request_hash, action)
    return idempotency.json_response(stored)


def setup(app: web.Application) -> None:
    path = "/api/v1/cases/{case_id}/draft"
    app.router.add_get(r"/api/v1/cases/{case_id:\d{1,9}}/draft", current_draft)
    document(
        app,
        path,
        "get",
        {
            "operationId": "currentDraft",
            "summary": "The case's current agreement draft (null before the first draft).",
            "parameters": [path_id("case_id")],
            "responses": {
                "200": json_response(DRAFT, "the version people would sign now"),
                **error_responses(404),
            },
        },
    )
    app.router.add_post(r"/api/v1/cases/{case_id:\d{1,9}}/draft/change-requests", request_change)
    document(
        app,
        path + "/change-requests",
        "post",
        {
            "operationId": "requestClauseChange",
            "summary": "A party asks the mediator to change one clause of the current draft.",
            "parameters": [path_id("case_id"), IDEMPOTENCY_KEY],
            "requestBody": json_body(NEW_CHANGE_REQUEST),
            "responses": {
                "201": json_response(CHANGE_REQUEST, "the request, shown to the mediator"),
                **error_responses(400, 403, 404, 409, 413, 422),
            },
        },
    )
