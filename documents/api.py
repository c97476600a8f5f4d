"""Court-facing JSON API: the judicial-confirmation inbox and rulings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.auth import current
from app.db import sessionmaker_key, transaction
from app.forms import clean, read_json
from app.openapi import document, error_responses
from documents import court


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


async def decide(request: web.Request) -> web.Response:
    principal = current(request)
    body = await read_json(request)
    async with transaction(request.app) as db:
        filing = await court.load_filing(db, principal, int(request.match_info["filing_id"]))
        await court.do_decide(
            db, principal, filing, clean(body.get("decision", "")), clean(body.get("note", ""))
        )
        status = filing.status
    return web.json_response({"id": filing.id, "status": status})


FILING_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["filed", "confirmed", "dismissed"]},
        "filed_at": {"type": "string", "format": "date-time"},
        "case": {"type": "object"},
        "parties": {"type": "array"},
        "pdf_url": {"type": "string", "description": "sealed PDF (same bearer token)"},
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
            "summary": "Judicial-confirmation applications filed with the clerk's court",
            "responses": {
                "200": {
                    "description": "newest first, undecided first",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "filings": {"type": "array", "items": FILING_SCHEMA}
                                },
                            }
                        }
                    },
                },
                **error_responses(401, 403),
            },
        },
    )
    document(
        app,
        "/api/v1/court/filings/{filing_id}/decision",
        "post",
        {
            "summary": "Rule on an application: confirm or dismiss (a note is required to dismiss)",
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["decision"],
                            "properties": {
                                "decision": {"enum": ["confirmed", "dismissed"]},
                                "note": {"type": "string"},
                            },
                        }
                    }
                }
            },
            "responses": {
                "200": {"description": "decided"},
                **error_responses(400, 401, 403, 404, 409),
            },
        },
    )
