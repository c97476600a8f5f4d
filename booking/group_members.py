"""A group case's attached member list (e.g. 60 households against a demolition office), entered
as pasted lines or an uploaded CSV instead of one form per member: `name, phone, address` per
line, phone and address optional."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.errors import UserError
from app.forms import ADDRESS_MAX_LENGTH, NAME_MAX_LENGTH
from app.i18n import N_
from app.identity import normalize_phone
from app.printable import single_spaced, unprintable

MAX_MEMBERS = 1000
MAX_CSV_BYTES = 256 * 1024
BAD_LINE = N_(
    "Each line of the member list needs a name (up to 64 characters), then optionally an "
    "11-digit mobile number and an address, separated by commas."
)
TOO_MANY = N_("A member list may have at most 1000 lines.")
NOT_TEXT = N_("The member list must be a CSV or text file (UTF-8 or GBK).")
_HEADER_NAMES = {"姓名", "name", "名称"}


@dataclass(frozen=True)
class GroupMemberInput:
    name: str
    phone: str | None
    address: str


def decode_list(data: bytes) -> str:
    """An uploaded list as text: UTF-8 (with or without BOM), else GB 18030 — Excel on a
    Chinese Windows saves CSV in GBK, which GB 18030 contains."""
    if len(data) > MAX_CSV_BYTES or b"\x00" in data:
        raise UserError(NOT_TEXT)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UserError(NOT_TEXT)


def _member(cells: list[str]) -> GroupMemberInput | None:
    cells = [single_spaced(cell) for cell in cells]
    name, rest = cells[0], [cell for cell in cells[1:] if cell]
    if not 1 <= len(name) <= NAME_MAX_LENGTH or unprintable(name) is not None:
        return None
    phone = normalize_phone(rest[0]) if rest and normalize_phone(rest[0]) else None
    address = " ".join(rest[1:] if phone else rest)
    if len(address) > ADDRESS_MAX_LENGTH or unprintable(address) is not None:
        return None
    return GroupMemberInput(name, phone, address)


def parse_members(text: str) -> tuple[tuple[GroupMemberInput, ...], list[int]]:
    """The members, and the numbers of the lines that are not a valid member."""
    lines = [line for line in text.replace("，", ",").replace("\t", ",").splitlines()]
    members, bad = [], []
    for number, cells in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=1):
        if not cells or not "".join(cells).strip():
            continue
        if cells[0].strip().lower() in _HEADER_NAMES:  # a header row (a CSV's, pasted too)
            continue
        member = _member(cells)
        if member is None:
            bad.append(number)
        else:
            members.append(member)
    return tuple(members), bad
