"""The roster's API operation in the OpenAPI document, from the constants its validator checks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.openapi import ID, INSTANT, document, error_responses, json_response
from booking.api_docs import DISPUTE_TYPE
from booking.roster import FILTER_MAX, MAX_PAGE_SIZE, PAGE_SIZE

PUBLIC: dict[str, Any] = {"security": [{}, {"bearer": []}]}
TEXT = {"type": "string", "maxLength": FILTER_MAX}
RATING = {
    "type": ["object", "null"],
    "required": ["count", "attitude", "procedure", "result"],
    "properties": {
        "count": {"type": "integer"},
        "attitude": {"type": "number"},
        "procedure": {"type": "number"},
        "result": {"type": "number"},
    },
}
MEDIATOR = {
    "type": "object",
    "required": ["id", "name", "org", "specialties", "languages", "rating", "next_free"],
    "properties": {
        "id": ID,
        "name": {"type": "string"},
        "org": {"type": "object", "properties": {"id": ID, "name": {"type": "string"}}},
        "specialties": {"type": "array", "items": DISPUTE_TYPE},
        "languages": {"type": "array", "items": {"type": "string"}},
        "region": {"type": "string"},
        "years": {"type": "integer", "description": "years of experience"},
        "bio": {"type": "string"},
        "photo": {"type": ["string", "null"], "description": "URL of the photo, if any"},
        "initials": {"type": "string", "description": "for an avatar when there is no photo"},
        "rating": RATING,
        "next_free": {
            **INSTANT,
            "type": ["string", "null"],
            "description": "the earliest free hour in the coming days (MEDIATION_ROSTER_DAYS)",
        },
        "apply": {"type": "string", "description": "the application form with this choice"},
    },
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def setup(app: web.Application) -> None:
    document(
        app,
        "/api/v1/roster",
        "get",
        {
            **PUBLIC,
            "operationId": "listRoster",
            "summary": (
                "The public roster (挂号): active mediators with specialties, languages, region, "
                "experience, rating and next free time. No phone numbers."
            ),
            "parameters": [
                _query("org", ID, "an organisation: it and every organisation below it"),
                _query("type", DISPUTE_TYPE, "mediators with this specialty"),
                _query("region", TEXT, "a region prefix, largest unit first (吴江区)"),
                _query("language", TEXT, "a language or dialect, e.g. 河南话"),
                # No "maximum": in this document integers bounded by a maximum are ids.
                _query("page", {"type": "integer", "minimum": 1}, "from 1 (at most 1000)"),
                _query(
                    "size",
                    {"type": "integer", "minimum": 1, "default": PAGE_SIZE},
                    f"mediators per page (at most {MAX_PAGE_SIZE})",
                ),
            ],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["mediators", "page", "size", "has_next"],
                        "properties": {
                            "mediators": {"type": "array", "items": MEDIATOR},
                            "page": {"type": "integer"},
                            "size": {"type": "integer"},
                            "has_next": {"type": "boolean"},
                        },
                    },
                    "one page of the roster",
                ),
                **error_responses(422),
            },
        },
    )
