"""Saved versions of an agreement (each immutable, with its SHA-256) and a clause-level
comparison of two of them: terms added, removed or changed, and the fields around them."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.i18n import N_
from documents.models import Agreement

FIELDS = (
    ("facts", N_("Main facts")),
    ("disputes", N_("Disputed matters")),
    ("responsibility", N_("Each party's responsibility")),
    ("performance", N_("Manner of performance")),
    ("performance_deadline", N_("Performance deadline")),
)
PARTY_FIELDS = (
    ("name", N_("Name")),
    ("sex", N_("Sex")),
    ("ethnicity", N_("Ethnicity")),
    ("birth_date", N_("Date of birth")),
    ("occupation", N_("Occupation or employer")),
    ("address", N_("Address")),
    ("agent", N_("Agent")),
)
TERM_PARTS = (
    ("amount", N_("Amount")),
    ("payer", N_("Payer")),
    ("payee", N_("Payee")),
    ("deadline", N_("Performance deadline")),
    ("manner", N_("Manner of performance")),
)


@dataclass(frozen=True)
class Change:
    kind: str  # field | party | term
    what: str  # message id of the field's label
    status: str  # added | removed | changed
    old: str
    new: str
    old_number: int | None = None  # the term's number in each version
    new_number: int | None = None
    party: str = ""  # whose detail changed


async def versions_of(db: AsyncSession, case_id: int) -> list[Agreement]:
    """Every saved version of the case's agreement, void ones included, oldest first."""
    rows = await db.scalars(
        select(Agreement).where(Agreement.case_id == case_id).order_by(Agreement.version)
    )
    return list(rows)


def pick(
    listed: Sequence[Agreement], old: str | None, new: str | None
) -> tuple[Agreement | None, Agreement | None]:
    """The two versions asked for by number; by default the last two."""
    by_number = {str(a.version): a for a in listed}
    default_new = listed[-1] if listed else None
    default_old = listed[-2] if len(listed) > 1 else None
    return (
        by_number.get(old or "", default_old) if old else default_old,
        by_number.get(new or "", default_new) if new else default_new,
    )


def _term(content: dict[str, Any], i: int) -> dict[str, str]:
    details = content.get("term_details", [])
    detail = details[i] if i < len(details) else {}
    names = {p["id"]: p["name"] for p in content["parties"]}
    shown = {"text": content["terms"][i]}
    for name, _label in TERM_PARTS:
        value = detail.get(name)
        shown[name] = names.get(value, "") if name in ("payer", "payee") else str(value or "")
    return shown


def _show(term: dict[str, str]) -> str:
    extra = "; ".join(term[name] for name, _label in TERM_PARTS if term[name])
    return f"{term['text']} ({extra})" if extra else term["text"]


def _terms(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    a = [_term(old, i) for i in range(len(old["terms"]))]
    b = [_term(new, i) for i in range(len(new["terms"]))]
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(a=[t["text"] for t in a], b=[t["text"] for t in b])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        pairs = list(zip(range(i1, i2), range(j1, j2), strict=False))
        for i, j in pairs:
            if a[i] != b[j]:
                changes.append(
                    Change("term", "", "changed", _show(a[i]), _show(b[j]), i + 1, j + 1)
                )
        if tag == "equal":
            continue
        for i in range(i1 + len(pairs), i2):
            changes.append(Change("term", "", "removed", _show(a[i]), "", i + 1, None))
        for j in range(j1 + len(pairs), j2):
            changes.append(Change("term", "", "added", "", _show(b[j]), None, j + 1))
    return changes


def _party_value(party: dict[str, Any], name: str) -> str:
    value = party.get(name)
    if name == "agent":
        return f"{value['name']} ({value['authority']})" if value else ""
    return str(value or "")


def _parties(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before = {p["id"]: p for p in old["parties"]}
    changes = []
    for party in new["parties"]:
        previous = before.get(party["id"], {})
        for name, label in PARTY_FIELDS:
            was, now = _party_value(previous, name), _party_value(party, name)
            if was != now:
                status = "added" if not was else "removed" if not now else "changed"
                changes.append(Change("party", label, status, was, now, party=party["name"]))
    return changes


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed from `old` to `new`: fields, then parties, then terms in order."""
    changes = []
    for name, label in FIELDS:
        was, now = str(old.get(name) or ""), str(new.get(name) or "")
        if was != now:
            status = "added" if not was else "removed" if not now else "changed"
            changes.append(Change("field", label, status, was, now))
    return changes + _parties(old, new) + _terms(old, new)
