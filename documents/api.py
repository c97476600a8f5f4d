"""Court-facing JSON API: the judicial-confirmation inbox and rulings, and their OpenAPI description
(bounds from the constants the validators check)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from app import court_systems
from app.auth import current
from app.case_status import announce_case_status
from app.db import sessionmaker_key, transaction
from app.errors import NotFound
from app.forms import parse_id, read_json
from app.i18n import N_
from app.models import PARTY_ROLES
from app.openapi import ID, document, error_responses, json_body, json_response, path_id
from app.settings import settings_key
from documents import court, court_review, venue
from documents.court_clocks import RestDays

NO_SUCH_FILING = N_("This filing does not exist or you may not see it.")
STATUSES = (
    "filed",
    "supplement",
    "accepted",
    "not_accepted",
    "confirmed",
    "dismissed",
    "withdrawn",
)


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _item(item: court.InboxItem) -> dict[str, Any]:
    f = item.filing
    return {
        "id": f.id,
        "status": f.status,
        "filed_at": f.filed_at.isoformat(),
        "court_case_number": f.court_case_number,
        "review_note": f.review_note,
        "accepted_at": _instant(f.accepted_at),
        "ruling_due_at": _instant(f.ruling_due_at),
        "extended_at": _instant(f.extended_at),
        "decided_at": _instant(f.decided_at),
        "decision_note": f.decision_note,
        "case": {
            "id": item.case.id,
            "number": item.case.number,
            "dispute_type": item.case.dispute_type,
        },
        "parties": [
            {
                "name": p.name,
                "role": p.role,
                "id_masked": p.id_masked,
                "served_at": _instant(item.served.get(p.id)),
            }
            for p in item.parties
        ],
        "pdf_url": f"/agreements/{f.agreement_id}/pdf",
        "packet_url": f"/api/v1/court/filings/{f.id}/packet",
        "application_url": f"/applications/{f.application_id}/pdf" if f.application_id else None,
        "court_basis": f.court_basis,
        "court_reason": f.court_reason,
        "enforceable": f.enforceable,
        "ruling_url": f"/filings/{f.id}/ruling" if f.ruling_storage_key else None,
        "ruling_sha256": f.ruling_sha256,
    }


async def inbox(request: web.Request) -> web.Response:
    page = court.check_page(request.query.get("page"))
    async with request.app[sessionmaker_key]() as db:
        items, more = await court.inbox_page(db, current(request), page)
    return web.json_response(
        {"filings": [_item(i) for i in items], "next_page": page + 1 if more else None}
    )


def _filing_id(request: web.Request) -> int:
    filing_id = parse_id(request.match_info["filing_id"])
    if filing_id is None:
        raise NotFound(NO_SUCH_FILING)
    return filing_id


async def filing(request: web.Request) -> web.Response:
    filing_id = _filing_id(request)
    async with request.app[sessionmaker_key]() as db:
        item = await court.filing_item(db, current(request), filing_id)
    return web.json_response(_item(item))


async def _step(request: web.Request, role: str, act: Any) -> web.Response:
    """Reads the body, takes one step on the filing in one transaction, announces the case's
    status to its room when it changed."""
    principal = current(request)
    court_review.require_court(principal, role)
    filing_id = _filing_id(request)
    body = await read_json(request)
    rest = RestDays.of(request.app[settings_key])
    async with transaction(request.app) as db:
        filing = await court.load_filing(db, principal, filing_id)
        await act(db, principal, filing, body, rest)
        answer = {"id": filing.id, "status": filing.status}
    if filing.status in court_review.DECISIONS:
        await announce_case_status(request.app, filing.case_id, filing.status)
    return web.json_response(answer)


async def review(request: web.Request) -> web.Response:
    async def act(db: Any, principal: Any, filing: Any, body: dict[str, Any], rest: Any) -> None:
        await court_review.review(
            db,
            principal,
            filing,
            body.get("outcome"),
            court_case_number=body.get("court_case_number"),
            note=body.get("note"),
            rest=rest,
        )

    return await _step(request, "court_clerk", act)


async def decide(request: web.Request) -> web.Response:
    async def act(db: Any, principal: Any, filing: Any, body: dict[str, Any], rest: Any) -> None:
        await court_review.decide(db, principal, filing, body.get("decision"), body.get("note"))

    return await _step(request, "judge", act)


async def extend(request: web.Request) -> web.Response:
    async def act(db: Any, principal: Any, filing: Any, body: dict[str, Any], rest: Any) -> None:
        await court_review.extend(
            db, principal, filing, body.get("approved_by"), body.get("reason"), rest=rest
        )

    return await _step(request, "judge", act)


_MAYBE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
FILING = {
    "type": "object",
    "required": [
        "id",
        "status",
        "filed_at",
        "court_case_number",
        "review_note",
        "accepted_at",
        "ruling_due_at",
        "extended_at",
        "decided_at",
        "decision_note",
        "case",
        "parties",
        "pdf_url",
        "packet_url",
        "application_url",
        "court_basis",
        "court_reason",
        "enforceable",
        "ruling_url",
        "ruling_sha256",
    ],
    "properties": {
        "id": ID,
        "status": {"type": "string", "enum": list(STATUSES)},
        "filed_at": {"type": "string", "format": "date-time"},
        "court_case_number": {"type": ["string", "null"]},
        "review_note": {"type": ["string", "null"]},
        "accepted_at": _MAYBE_INSTANT,
        "ruling_due_at": {**_MAYBE_INSTANT, "description": "the statutory clock: 24:00 Beijing"},
        "extended_at": _MAYBE_INSTANT,
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
                "required": ["name", "role", "id_masked", "served_at"],
                "properties": {
                    "name": {"type": "string"},
                    "role": {"type": "string", "enum": list(PARTY_ROLES)},
                    "id_masked": {"type": "string"},
                    "served_at": {
                        **_MAYBE_INSTANT,
                        "description": "electronic service: when the party first opened the ruling",
                    },
                },
            },
        },
        "pdf_url": {"type": "string", "description": "sealed PDF (same bearer token)"},
        "packet_url": {
            "type": "string",
            "description": "the packet: files, signed manifest (same bearer token)",
        },
        "application_url": {
            "type": ["string", "null"],
            "description": "the parties' signed and sealed joint application (PDF)",
        },
        "court_basis": {
            "type": ["string", "null"],
            "enum": [*venue.BASES, None],
            "description": "why this court is competent (民事诉讼法 art. 205)",
        },
        "court_reason": {
            "type": ["string", "null"],
            "description": "the mediator's reason when not the organisation's basic court",
        },
        "enforceable": {
            "type": "boolean",
            "description": "confirmed by the court: the agreement is enforceable",
        },
        "ruling_url": {
            "type": ["string", "null"],
            "description": "the ruling sealed with the court's key, once rendered",
        },
        "ruling_sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
    },
}
_NOTE = {"type": "string", "maxLength": court_review.NOTE_MAX_LENGTH}
REVIEW = {
    "type": "object",
    "required": ["outcome"],
    "properties": {
        "outcome": {"type": "string", "enum": list(court_review.REVIEWS)},
        "court_case_number": {
            "type": "string",
            "maxLength": court_review.NUMBER_MAX_LENGTH,
            "description": "required to accept, unique in the court",
        },
        "note": {**_NOTE, "description": "required unless accepting"},
    },
}
RULING = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": list(court_review.DECISIONS)},
        "note": {**_NOTE, "description": "the reasons; required to dismiss"},
    },
}
EXTENSION = {
    "type": "object",
    "required": ["approved_by", "reason"],
    "properties": {
        "approved_by": {"type": "string", "maxLength": court_review.APPROVER_MAX_LENGTH},
        "reason": _NOTE,
    },
}
STEPPED = {
    "type": "object",
    "required": ["id", "status"],
    "properties": {"id": ID, "status": {"type": "string", "enum": list(STATUSES)}},
}
STEPS = (
    (
        "review",
        review,
        REVIEW,
        "reviewFiling",
        "The clerk's pre-review: accept with the court's "
        "case number, not accept with the reason, or ask the mediator for a supplement.",
    ),
    (
        "decision",
        decide,
        RULING,
        "decideFiling",
        "The judge's ruling on an accepted "
        "application, once: confirm, or dismiss with the reasons.",
    ),
    (
        "extension",
        extend,
        EXTENSION,
        "extendFiling",
        "The judge extends the 15 days for the "
        "ruling once, by 10 days, with who approved it and why.",
    ),
)


# Who may call these: the court's clerk or judge with their personal token (each their own
# steps), or the court's system token (every step, acting as the court; app/court_systems.py).
CALLERS = (
    " Bearer: a clerk's or judge's personal token, or the court's system token, which sees "
    "only its court's filings."
)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/court/inbox", inbox)
    app.router.add_get(r"/api/v1/court/filings/{filing_id:\d{1,9}}", filing)
    app[court_systems.routes_key].update(
        {"/api/v1/court/inbox", "/api/v1/court/filings/{filing_id}"}
        # the documents a filing links to (`pdf_url`, `ruling_url`)
        | {"/agreements/{agreement_id}/pdf", "/filings/{filing_id}/ruling"}
        | {f"/api/v1/court/filings/{{filing_id}}/{name}" for name, *_rest in STEPS}
    )
    document(
        app,
        "/api/v1/court/filings/{filing_id}",
        "get",
        {
            "operationId": "courtFiling",
            "summary": "One application filed with the court, as the inbox lists it." + CALLERS,
            "parameters": [path_id("filing_id")],
            "responses": {
                "200": json_response(FILING, "the filing"),
                **error_responses(403, 404),
            },
        },
    )
    document(
        app,
        "/api/v1/court/inbox",
        "get",
        {
            "operationId": "courtInbox",
            "parameters": [
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "exclusiveMaximum": court.MAX_PAGE + 1,
                    },
                    "description": f"{court.INBOX_SIZE} filings per page",
                }
            ],
            "summary": "Judicial-confirmation applications filed with the court of the clerk "
            "or judge: what waits for them first, each by its statutory clock." + CALLERS,
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["filings", "next_page"],
                        "properties": {
                            "filings": {"type": "array", "items": FILING},
                            "next_page": {"type": ["integer", "null"]},
                        },
                    },
                    "waiting first, by the clock; then the decided, newest first",
                ),
                **error_responses(403, 422),
            },
        },
    )
    for name, handler, schema, operation, summary in STEPS:
        path = f"/api/v1/court/filings/{{filing_id}}/{name}"
        app.router.add_post(rf"/api/v1/court/filings/{{filing_id:\d{{1,9}}}}/{name}", handler)
        document(
            app,
            path,
            "post",
            {
                "operationId": operation,
                "summary": summary + CALLERS,
                "parameters": [path_id("filing_id")],
                "requestBody": json_body(schema),
                "responses": {
                    "200": json_response(STEPPED, "the step was taken"),
                    **error_responses(400, 403, 404, 409, 413, 422),
                },
            },
        )
