"""Untrusted text from forms, query strings and route parameters, made safe to store."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from app.errors import UserError
from app.i18n import N_

MAX_ID = 2**31 - 1  # PostgreSQL integer; a larger id would be a database error, not a 404
_ID = re.compile(r"^[0-9]{1,10}$")


def clean(value: object) -> str:
    """A form value as text; NUL is refused by PostgreSQL text columns, so it goes."""
    return str(value).replace("\x00", "").strip()


def form_dict(form: Mapping[str, object]) -> dict[str, str]:
    return {key: clean(value) for key, value in form.items() if isinstance(value, str)}


def parse_id(raw: str | None) -> int | None:
    if raw is None or not _ID.match(raw.strip()):
        return None
    value = int(raw.strip())
    return value if 1 <= value <= MAX_ID else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def strict_json(text: str | bytes) -> Any:
    """json.loads that refuses duplicate keys (ValueError; RecursionError when nested deeply)."""
    return json.loads(text, object_pairs_hook=_no_duplicates)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a clear 400."""
    try:
        body = strict_json((await request.read()).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise UserError(N_("The request body is not valid JSON.")) from exc
    if not isinstance(body, dict):
        raise UserError(N_("The request body must be a JSON object."))
    return body
