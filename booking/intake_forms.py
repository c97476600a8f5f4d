"""The API's application body (nested JSON) → the flat field names `check_application` reads,
and its errors back to the body's own paths (parties[2].phone)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from app.errors import ValidationFailed
from app.forms import MAX_ID, TEXT, clean
from app.i18n import N_
from booking.intake import MAX_AGENTS, MAX_PER_SIDE, SIDES, slot

PARTY_FIELDS = ("kind", "name", "phone", "id_number", "credit_code", "representative", "address")
AGENT_FIELDS = ("name", "phone", "authority")
MEMBER_FIELDS = ("name", "phone", "address")
PARTY_ROLES = SIDES
MAX_LIST = 1000
NOT_A_LIST = N_("Please give a list here.")
NOT_A_PARTY = N_("Please give this party's name, phone, ID number and address.")


class Flat:
    """Flat form fields, and for each the body path it came from (for error messages)."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.paths: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def text(self, obj: Mapping[str, Any], key: str, flat: str, path: str) -> None:
        value = obj.get(key, "")
        self.paths[flat] = path
        if isinstance(value, str):
            self.fields[flat] = clean(value)
        else:
            self.errors[path] = TEXT


def _int(value: Any) -> str:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID
    return str(value) if ok else ""


def _list(body: Mapping[str, Any], key: str, out: Flat, most: int) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list) or len(value) > most:
        out.errors[key] = NOT_A_LIST
        return []
    return value


def _parties(body: Mapping[str, Any], out: Flat) -> list[str]:
    """Flattens `parties` (or the older `applicant` and `respondent` objects); the slot of each."""
    if "parties" in body:
        listed = _list(body, "parties", out, 2 * MAX_PER_SIDE)
        items = [(f"parties[{i}]", p) for i, p in enumerate(listed)]
    else:
        items = [
            (role, {**body[role], "side": role})
            if isinstance(body.get(role), dict)
            else (role, None)
            for role in SIDES
        ]
    counts = dict.fromkeys(SIDES, 0)
    slots = []
    for path, party in items:
        if not isinstance(party, dict) or party.get("side") not in SIDES:
            out.errors[path] = NOT_A_PARTY
            slots.append("")
            continue
        role = party["side"]
        name = slot(role, counts[role])
        counts[role] += 1
        slots.append(name)
        for field in PARTY_FIELDS:
            out.text(party, field, f"{name}_{field}", f"{path}.{field}")
    for role in SIDES:
        out.fields[f"{role}s"] = str(max(counts[role], 1))
    return slots


def _agents(body: Mapping[str, Any], out: Flat, slots: list[str]) -> None:
    agents = _list(body, "agents", out, MAX_AGENTS)
    out.fields["agents"] = str(len(agents))
    for n, agent in enumerate(agents, start=1):
        path = f"agents[{n - 1}]"
        if not isinstance(agent, dict):
            out.errors[path] = TEXT
            continue
        for field in AGENT_FIELDS:
            out.text(agent, field, f"agent{n}_{field}", f"{path}.{field}")
        index = agent.get("party")
        ok = isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(slots)
        out.fields[f"agent{n}_party"] = slots[index] if ok else ""  # type: ignore[index]
        out.paths[f"agent{n}_party"] = f"{path}.party"


def _members(body: Mapping[str, Any], out: Flat) -> None:
    members = _list(body, "group_members", out, MAX_LIST)
    lines = io.StringIO()
    writer = csv.writer(lines)
    for i, member in enumerate(members):
        values = [member.get(f, "") if isinstance(member, dict) else None for f in MEMBER_FIELDS]
        if not all(isinstance(v, str) for v in values):
            out.errors[f"group_members[{i}]"] = TEXT
            continue
        writer.writerow([clean(v) for v in values])
    out.fields["group_members"] = lines.getvalue()


def application_json(body: Mapping[str, Any]) -> Flat:
    out = Flat()
    out.fields["org_id"] = _int(body.get("org_id"))
    out.fields["preferred_mediator_id"] = (
        _int(body["preferred_mediator_id"]) or "0" if "preferred_mediator_id" in body else ""
    )
    for name in ("dispute_type", "description", "channel", "phone_code"):
        out.text(body, name, name, name)
    _agents(body, out, _parties(body, out))
    _members(body, out)
    if out.errors:
        raise ValidationFailed(out.errors)
    return out


def api_field_names(error: ValidationFailed, flat: Flat) -> ValidationFailed:
    """applicant2_phone → parties[3].phone, matching the body the client sent."""
    return ValidationFailed({flat.paths.get(k, k): v for k, v in error.fields.items()})
