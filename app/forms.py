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
# The application's limits (app.services.check_application; the columns in app.models agree).
NAME_MAX_LENGTH = 64
ADDRESS_MAX_LENGTH = 200
DESCRIPTION_MIN_LENGTH, DESCRIPTION_MAX_LENGTH = 10, 4000
TEXT = N_("Please give text here.")
# NUL is refused by PostgreSQL text columns; a lone surrogate (from a JSON "\ud800" escape) cannot
# be encoded as UTF-8 at all, so no database can store either.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def clean(value: object) -> str:
    """A form value as text that every database can store."""
    return _UNSTORABLE.sub("", str(value)).strip()


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


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)  # immutable: built once


def _lone_surrogate(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys too) holds a lone surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def strict_json(text: str | bytes) -> Any:
    """json.loads that refuses duplicate keys and lone surrogates (ValueError; RecursionError
    when nested deeply). A paired surrogate escape decodes to one character and passes."""
    if isinstance(text, bytes):
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    else:
        value = _DECODER.decode(text)
        if text.isascii() and "\\u" not in text:
            return value  # no escape, no raw surrogate: nothing to look for (the common case)
    if _lone_surrogate(value):
        raise ValueError("lone surrogate in a JSON string")
    return value


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a clear 400."""
    try:
        body = strict_json((await request.read()).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise UserError(N_("The request body is not valid JSON.")) from exc
    if not isinstance(body, dict):
        raise UserError(N_("The request body must be a JSON object."))
    return body
