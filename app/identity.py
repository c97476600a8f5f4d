"""Chinese identity data: resident ID numbers (GB 11643), mobile numbers, and their masked forms."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
_PHONE_SHAPE = re.compile(r"^1[3-9]\d{9}$")


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(raw: str) -> str | None:
    """The canonical 18-character ID number, or None if it is not a valid GB 11643 number."""
    value = raw.strip().upper().replace(" ", "")
    if not _ID_SHAPE.match(value):
        return None
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None
    if birth.year < 1900 or birth > date.today():
        return None
    return value if id_check_char(value[:17]) == value[17] else None


def mask_id_number(value: str) -> str:
    return value[:4] + "*" * 10 + value[-4:]


def id_digest(value: str, key: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def normalize_phone(raw: str) -> str | None:
    value = re.sub(r"[\s-]", "", raw.strip())
    if value.startswith("+86"):
        value = value[3:]
    return value if _PHONE_SHAPE.match(value) else None


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"


_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![\dA-Z])(\d{4})\d{10}(\d{3}[\dXx])(?![\dA-Z])")


def mask_text(text: str) -> str:
    """Masks anything shaped like an ID or phone number in free text (used by the log filter)."""
    text = _ID_IN_TEXT.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)
    return _PHONE_IN_TEXT.sub(lambda m: m.group(1) + "****" + m.group(2), text)
