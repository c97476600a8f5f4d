"""Unified social credit codes (统一社会信用代码, GB 32100-2015): 18 characters from a 31-character
alphabet (no I, O, S, V, Z), the administrative division in characters 3–8, and a check character
computed modulo 31 over the first 17."""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(rf"^[{ALPHABET}]{{2}}\d{{6}}[{ALPHABET}]{{10}}$")


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str | None:
    """The canonical code (upper case, no spaces), or None when it is malformed or its check
    character is wrong (a typo, or a made-up code)."""
    value = raw.strip().upper().replace(" ", "")
    if not _SHAPE.match(value):
        return None
    return value if check_character(value[:17]) == value[17] else None
