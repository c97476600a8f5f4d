"""Untrusted text from forms, query strings and route parameters, made safe to store."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
