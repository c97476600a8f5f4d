"""The OpenAPI document for /api/v1, assembled from what each feature declares next to its routes.

Schemas are built from the constants the validators check (ids up to MAX_ID, lengths, choices),
so the document cannot promise what the server refuses. tests/test_openapi_document.py compares
the router with the document.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.forms import MAX_ID

paths_key = web.AppKey("openapi_paths", dict[str, dict[str, Any]])
PREFIX = "/api/v1"

_BILINGUAL = {
    "type": "object",
    "required": ["zh_CN", "en"],
    "properties": {"zh_CN": {"type": "string"}, "en": {"type": "string"}},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "messages"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string", "description": "in the request's language"},
        "messages": {**_BILINGUAL, "description": "the message in zh_CN and en"},
        "fields": {
            "type": "object",
            "description": "per-field messages in zh_CN and en, when validating",
            "additionalProperties": _BILINGUAL,
        },
    },
}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
INSTANT = {"type": "string", "format": "date-time", "example": "2026-11-20T09:00:00+08:00"}

# Every operation may be sent a bearer token, which is looked up in the database: a wrong one is
# a 401 and a database that cannot be reached a 503, whatever the operation.
ALWAYS = (401, 503)
_REASONS = {
    400: "the body is not a JSON object, or a header is malformed",
    401: "no, wrong or revoked bearer token",
    403: "the token's role may not do this",
    404: "no such resource, or not visible to the token's organisation",
    409: "the resource's state does not allow this",
    413: "the body is too large",
    422: "validation failed (see `fields`)",
    429: "too many attempts from this client; see Retry-After",
    503: "the database cannot be reached; retry later",
}


def document(app: web.Application, path: str, method: str, operation: dict[str, Any]) -> None:
    """Declares one API operation; call it next to the route it describes."""
    app.setdefault(paths_key, {}).setdefault(path, {})[method.lower()] = operation


def error_responses(*statuses: int) -> dict[str, Any]:
    """Error answers (the Error schema) for `statuses` and for those every operation can give."""
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(s): {"description": _REASONS[s], **ref} for s in sorted({*statuses, *ALWAYS})}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def spec(app: web.Application) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Online mediation API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff member's API token (`python -m app create-token`), "
                    "acting with that person's role, or a court's system token (issued by an "
                    "admin), which reaches only the court API and acts as that court.",
                }
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "security": [{"bearer": []}],
        "paths": app.get(paths_key, {}),
    }


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(spec(request.app))


def setup(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
    document(
        app,
        f"{PREFIX}/openapi.json",
        "get",
        {
            "operationId": "getOpenApiDocument",
            "summary": "This document. Public; a bearer token, when sent, must be valid.",
            "security": [{}, {"bearer": []}],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["openapi", "info", "paths"],
                        "properties": {
                            "openapi": {"type": "string"},
                            "info": {"type": "object"},
                            "paths": {"type": "object"},
                        },
                    },
                    "the OpenAPI 3.1 document",
                ),
                **error_responses(),
            },
        },
    )
