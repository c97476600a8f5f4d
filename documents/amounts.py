"""Amounts of money in the uppercase form (大写) printed beside the figures in agreements.

The rules are those of bank and accounting practice (会计基础工作规范 art. 52): 元 always
follows the integer part when there is one; 整 ends an amount without 角 or 分 (and may follow 角);
one 零 stands for any run of zeros inside the number, including across 万/亿; a zero 角 between
元 and 分 is written 零; amounts under one 元 start with their first non-zero unit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
MAX_AMOUNT = Decimal("9999999999999999.99")  # below 万亿亿: every amount an agreement can hold


def parse_amount(text: str) -> Decimal:
    """A non-negative amount with at most two decimals, as typed (commas allowed)."""
    try:
        value = Decimal(text.replace(",", "").replace("，", "").strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise ValueError(f"amount out of range: {text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"more than two decimals: {text!r}")
    return value


def _group(n: int) -> str:
    """0 < n < 10000 in digits and 拾佰仟, with 零 for inner zeros (no leading or trailing)."""
    out, zero = "", False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[digit] + SMALL_UNITS[position]
    return out


def _integer(n: int) -> str:
    """n > 0: 亿 and 万 split the number; a 零 marks the zeros in front of a lower part."""
    for unit, size in (("亿", 10**8), ("万", 10**4)):
        if n >= size:
            high, low = divmod(n, size)
            out = _integer(high) + unit
            if low:
                out += ("零" if low < size // 10 else "") + _integer(low)
            return out
    return _group(n)


def uppercase(amount: Decimal | int | str) -> str:
    """1234.56 → 壹仟贰佰叁拾肆元伍角陆分; 0.05 → 伍分; 10000 → 壹万元整; 0 → 零元整."""
    value = parse_amount(str(amount)) if not isinstance(amount, Decimal) else amount
    cents = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _integer(yuan) + "元" if yuan else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    elif fen and yuan:
        out += "零"
    if fen:
        out += DIGITS[fen] + "分"
    return out if fen else out + "整"
