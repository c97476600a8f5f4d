import logging

from hypothesis import given
from hypothesis import strategies as st

from app.identity import (
    id_check_char,
    mask_id_number,
    mask_phone,
    mask_text,
    normalize_id_number,
    normalize_phone,
)
from app.logs import MaskingFilter

births = st.dates(
    min_value=__import__("datetime").date(1920, 1, 1),
    max_value=__import__("datetime").date(2020, 12, 31),
)


def make_id(region: int, birth, seq: int) -> str:
    first17 = f"{region:06d}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


@given(st.integers(110000, 659999), births, st.integers(0, 999))
def test_valid_ids_pass_and_any_changed_digit_fails(region, birth, seq) -> None:
    number = make_id(region, birth, seq)
    assert normalize_id_number(number) == number
    wrong_check = number[:17] + ("0" if number[17] != "0" else "1")
    assert normalize_id_number(wrong_check) is None


def test_known_numbers() -> None:
    assert normalize_id_number("11010519491231002X") == "11010519491231002X"
    assert normalize_id_number("11010519491231002x") == "11010519491231002X"
    assert normalize_id_number("110105194912310021") is None  # wrong check digit
    assert normalize_id_number("110105194902300028") is None  # 30 February
    assert normalize_id_number("12345") is None
    assert mask_id_number("11010519491231002X") == "1101**********002X"


def test_phones() -> None:
    assert normalize_phone("139 1234 5678") == "13912345678"
    assert normalize_phone("+8613912345678") == "13912345678"
    assert normalize_phone("12912345678") is None
    assert normalize_phone("1391234567") is None
    assert mask_phone("13912345678") == "139****5678"


def test_logs_mask_personal_data() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "party %s id %s",
        ("13912345678", "11010519491231002X"),
        None,
    )
    MaskingFilter().filter(record)
    assert record.getMessage() == "party 139****5678 id 1101**********002X"
    assert mask_text("no numbers") == "no numbers"
