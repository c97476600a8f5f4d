"""The uppercase amount (大写): known cases, and for any amount it reads back as the same number
and follows the writing rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from documents.amounts import DIGITS, MAX_AMOUNT, parse_amount, uppercase

KNOWN = {
    "1234.56": "壹仟贰佰叁拾肆元伍角陆分",
    "0.05": "伍分",
    "0.5": "伍角整",
    "10000": "壹万元整",
    "100000000": "壹亿元整",
    "1001": "壹仟零壹元整",
    "10100": "壹万零壹佰元整",
    "100010000": "壹亿零壹万元整",
    "100100000": "壹亿零壹拾万元整",
    "110000000": "壹亿壹仟万元整",
    "1200000000000": "壹万贰仟亿元整",
    "1.05": "壹元零伍分",
    "10": "壹拾元整",
    "8000": "捌仟元整",
    "1010.01": "壹仟零壹拾元零壹分",
    "0": "零元整",
    "3,500.00": "叁仟伍佰元整",
}


@pytest.mark.parametrize(("typed", "written"), KNOWN.items())
def test_known_amounts(typed: str, written: str) -> None:
    assert uppercase(typed) == written


@pytest.mark.parametrize("typed", ["", "abc", "-1", "1.005", "NaN", "Infinity", "1e30"])
def test_bad_amounts_are_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(typed)


def read_back(text: str) -> Decimal:
    """An independent reader of 大写 amounts (the inverse the property checks against)."""
    body = text.removesuffix("整")
    yuan_text, _, small = body.rpartition("元") if "元" in body else ("", "", body)
    total = section = digit = 0
    for ch in yuan_text:
        if ch in DIGITS:
            digit = DIGITS.index(ch)
        elif ch in "拾佰仟":
            section += digit * 10 ** ("拾佰仟".index(ch) + 1)
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10**4
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit) * 10**8
            section = digit = 0
    cents = (total + section + digit) * 100
    for ch, unit in zip(small[::2], small[1::2], strict=False):
        cents += DIGITS.index(ch) * (10 if unit == "角" else 1)
    if small.startswith("零"):  # 零 standing for a zero 角
        cents += DIGITS.index(small[1]) if small[2:] == "分" else 0
    return Decimal(cents) / 100


amounts = st.integers(min_value=0, max_value=int(MAX_AMOUNT * 100)).map(
    lambda cents: Decimal(cents) / 100
)


@given(amounts)
def test_every_amount_reads_back_and_follows_the_rules(amount: Decimal) -> None:
    written = uppercase(amount)
    assert read_back(written) == amount, written
    assert "零零" not in written and not written.startswith("零" if amount else "-")
    cents = int(amount * 100)
    assert written.endswith("整") == (cents % 10 == 0)
    assert ("元" in written) == (amount >= 1 or amount == 0)
    assert all(ch in DIGITS + "拾佰仟万亿元角分整" for ch in written)
    assert not any(written.count(u) > 1 for u in "元角分")
