"""Text that will be printed on a signed document is settled before anyone signs."""

from __future__ import annotations

import pytest

from app.errors import ValidationFailed
from app.printable import UNPRINTABLE, single_spaced, unprintable
from booking.intake import check_party


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("赔偿  三千元", "赔偿 三千元"),
        ("赔偿\t三千元", "赔偿 三千元"),
        ("甲方\u3000王秀兰", "甲方 王秀兰"),
        ("赔偿\u00a0三千元", "赔偿 三千元"),
        ("  第一条 \n\n 第二条  ", "第一条\n\n第二条"),
        ("𠮷野家 龘", "𠮷野家 龘"),
    ],
)
def test_white_space_is_settled_where_it_is_typed(typed: str, stored: str) -> None:
    assert single_spaced(typed) == stored


@pytest.mark.parametrize(
    "typed", ["赔偿\u202e元0003", "赔偿\u200b三千元", "王\ue000", "a\x07b", "\u2066隔离\u2069"]
)
def test_invisible_and_unprintable_characters_are_found(typed: str) -> None:
    assert unprintable(typed) is not None


def test_ordinary_text_is_printable() -> None:
    assert unprintable("（三）1.5万元于2026.12.31前付清，𠮷 龘 𰻞。\n第二行") is None


def test_a_party_name_with_a_direction_override_is_refused() -> None:
    errors: dict[str, str] = {}
    data = {
        "applicant_name": "王\u202e兰秀",
        "applicant_phone": "13912345678",
        "applicant_id_number": "",
        "applicant_address": "联杨村\u200b12号",
    }
    check_party("applicant_", "applicant", data, errors)
    assert errors.get("applicant_name") == UNPRINTABLE
    assert errors.get("applicant_address") == UNPRINTABLE
    assert ValidationFailed(errors).fields == errors
