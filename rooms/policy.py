"""Room policy as pure data and functions: no I/O, no sockets, tested with tables.

Admission values stored in RoomMember.admission:
  waiting  — in the lobby, knocking; sees and sends no media
  admitted — in the room, in `subroom`
  removed  — sent out by the mediator; a new join knocks again (the mediator decides again)
  left     — left on purpose (the Leave button); a party who comes back knocks again

A dropped connection changes nothing in the database, so a party who reconnects returns
admitted to the same sub-room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAIN = "main"
ROOM_ROLES = ("mediator", "expert", "coordinator", "party")
STAFF_ROLES = ("mediator", "expert", "coordinator")
ADMISSIONS = ("waiting", "admitted", "removed", "left")
ROOM_STATES = ("open", "locked", "closed")


@dataclass(frozen=True)
class MemberState:
    """What every process knows about one member: durable part from the DB, `session` from
    presence (the id of the live connection, or None when offline)."""

    id: int
    role: str
    name: str
    admission: str
    subroom: str = MAIN
    session: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "admission": self.admission,
            "subroom": self.subroom,
            "online": self.session is not None,
            "session": self.session,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MemberState:
        return cls(
            id=int(data["id"]),
            role=str(data["role"]),
            name=str(data["name"]),
            admission=str(data["admission"]),
            subroom=str(data["subroom"]),
            session=data.get("session"),
        )


@dataclass(frozen=True)
class JoinDecision:
    admission: str
    subroom: str


def room_role(kind: str, staff_role: str | None) -> str | None:
    """The role a principal takes in the room of a case it may see (None: may not enter).

    Court clerks see filed cases but have no part in the live session.
    """
    if kind == "party":
        return "party"
    if kind != "staff":
        return None
    if staff_role in ("mediator", "expert"):
        return staff_role
    if staff_role in ("coordinator", "admin"):
        return "coordinator"
    return None


def decide_join(role: str, existing: MemberState | None, room_state: str) -> JoinDecision | str:
    """Where a joining member lands, or an error code when it may not join at all."""
    if room_state == "closed":
        return "room-closed"
    keep = existing.subroom if existing is not None else MAIN
    if role in STAFF_ROLES:
        return JoinDecision("admitted", keep)
    if existing is not None and existing.admission == "admitted":
        return JoinDecision("admitted", keep)  # a reconnect: same sub-room as before
    if room_state == "locked":
        return "room-locked"
    return JoinDecision("waiting", MAIN)


def may_moderate(role: str) -> bool:
    """Admit, remove, move between sub-rooms, lock: the mediator's alone."""
    return role == "mediator"


def check_admit(actor: MemberState, target: MemberState | None) -> str | None:
    """None when the actor may admit the target, else the error code."""
    if not may_moderate(actor.role):
        return "not-allowed"
    if target is None:
        return "no-such-member"
    if target.admission == "admitted":
        return "already-admitted"
    return None


def check_remove(actor: MemberState, target: MemberState | None) -> str | None:
    if not may_moderate(actor.role):
        return "not-allowed"
    if target is None:
        return "no-such-member"
    if target.id == actor.id or target.role == "mediator":
        return "not-allowed"
    return None


def check_move(actor: MemberState, target: MemberState | None, subroom: str) -> str | None:
    if not may_moderate(actor.role):
        return "not-allowed"
    if target is None:
        return "no-such-member"
    if target.admission != "admitted":
        return "not-admitted"
    if not valid_subroom(subroom):
        return "invalid-message"
    return None


def valid_subroom(name: str) -> bool:
    return 1 <= len(name) <= 32 and all(c.isalnum() or c in "-_" for c in name)


def may_signal(sender: MemberState, recipient: MemberState) -> bool:
    """Media may flow only between two admitted members of the same sub-room; never from or
    to the lobby, never across sub-rooms (caucus isolation rests on this one function)."""
    return (
        sender.id != recipient.id
        and sender.admission == "admitted"
        and recipient.admission == "admitted"
        and sender.subroom == recipient.subroom
    )


def sees(viewer: MemberState, other: MemberState) -> bool:
    """Whether the viewer is told the other is present (and should hold a connection to it)."""
    return other.session is not None and may_signal(viewer, other)


def lobby_of(members: list[MemberState]) -> list[MemberState]:
    """Waiting members who are knocking right now, in order of arrival (member id)."""
    return sorted(
        (m for m in members if m.admission == "waiting" and m.session is not None),
        key=lambda m: m.id,
    )
