"""A case's documents as JSON (minutes, outcome documents, archives): what exists, which
template version made it, its hash and where to download it. Authorised like the case page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.auth import current
from app.db import sessionmaker_key
from app.errors import NotFound
from app.forms import parse_id
from app.openapi import ID, INSTANT, document, error_responses, json_response, path_id
from app.policy import CASE_NOT_FOUND, load_case
from documents import case_documents
from documents.models import CaseDocument

KINDS = ("minutes", "oral_agreement", "termination", "archive")


def _item(row: CaseDocument) -> dict[str, Any]:
    sealed = row.storage_key is not None
    return {
        "id": row.id,
        "kind": row.kind,
        "version": row.version,
        "template_version": row.template_version,
        "created_at": row.created_at.isoformat(),
        "sealed_at": row.sealed_at.isoformat() if row.sealed_at else None,
        "sha256": row.sha256,
        "pdf_url": f"/case-documents/{row.id}/pdf" if sealed else None,
    }


async def case_documents_json(request: web.Request) -> web.Response:
    case_id = parse_id(request.match_info["case_id"])
    if case_id is None:
        raise NotFound(CASE_NOT_FOUND)
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        rows = await case_documents.documents_of(db, principal, case)
    body = {"case_id": case.id, "documents": [_item(row) for row in rows]}
    return web.json_response(body, headers={"Cache-Control": "private, no-store"})


_MAYBE = {"type": ["string", "null"]}
ITEM = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "version",
        "template_version",
        "created_at",
        "sealed_at",
        "sha256",
        "pdf_url",
    ],
    "properties": {
        "id": ID,
        "kind": {"type": "string", "enum": list(KINDS)},
        "version": {"type": "integer", "minimum": 1},
        "template_version": {"type": "integer", "minimum": 0},
        "created_at": INSTANT,
        "sealed_at": {**INSTANT, "type": ["string", "null"]},
        "sha256": _MAYBE,
        "pdf_url": _MAYBE,
    },
}
LISTING = {
    "type": "object",
    "required": ["case_id", "documents"],
    "properties": {"case_id": ID, "documents": {"type": "array", "items": ITEM}},
}


def setup(app: web.Application) -> None:
    app.router.add_get(r"/api/v1/cases/{case_id:\d{1,9}}/documents", case_documents_json)
    document(
        app,
        "/api/v1/cases/{case_id}/documents",
        "get",
        {
            "operationId": "caseDocuments",
            "summary": "The case's minutes, outcome documents and (for staff) archives.",
            "parameters": [path_id("case_id")],
            "responses": {
                "200": json_response(LISTING, "sealed documents have a pdf_url"),
                **error_responses(404),
            },
        },
    )
