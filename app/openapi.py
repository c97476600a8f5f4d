"""The OpenAPI document for /api/v1, assembled from what each feature declares."""

from __future__ import annotations

from typing import Any

from aiohttp import web

paths_key = web.AppKey("openapi_paths", dict[str, dict[str, Any]])

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "messages"],
    "properties": {
        "error": {"type": "string", "description": "machine-readable code"},
        "message": {"type": "string", "description": "in the request's language"},
        "messages": {"type": "object", "description": "the message in zh_CN and en"},
        "fields": {"type": "object", "description": "per-field messages, when validating"},
    },
}


def document(app: web.Application, path: str, method: str, operation: dict[str, Any]) -> None:
    """Declares one API operation; call it next to the route it describes."""
    app.setdefault(paths_key, {}).setdefault(path, {})[method.lower()] = operation


def error_responses(*statuses: int) -> dict[str, Any]:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {str(s): {"description": _REASONS.get(s, "error"), **ref} for s in statuses}


_REASONS = {
    400: "bad input",
    401: "no or bad token",
    403: "forbidden",
    404: "not found",
    409: "conflict",
    422: "validation failed",
}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "openapi": "3.1.0",
            "info": {"title": "Online mediation API", "version": "1"},
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": {"Error": ERROR_SCHEMA},
            },
            "security": [{"bearer": []}],
            "paths": request.app.get(paths_key, {}),
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
