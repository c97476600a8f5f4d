"""Room policy as pure data and functions: no I/O, no sockets, tested with tables.

Admission values stored in RoomMember.admission:
  waiting  — in the lobby, knocking; sees and sends no media
  admitted — in the room, in `subroom`
  removed  — sent out by the mediator; a new join knocks again (the mediator decides again)
  left     — left on purpose (the Leave button); a party who comes back knocks again

A dropped connection changes nothing in the database, so a party who reconnects from the same
browser session returns admitted to the same sub-room. Admission is bound to that session
(RoomMember.web_session_id): a new session of the same party (a reissued link, another phone)
knocks again.

Parties meet only in the presence of a host: an admitted party whose sub-room has no host online
is *held* — it keeps its durable admission but sees and reaches nobody until a host is back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.lifecycle import FINISHED

MAIN = "main"
ROOM_ROLES = ("mediator", "expert", "coordinator", "party")
STAFF_ROLES = ("mediator", "expert", "coordinator")
# Staff whose presence lets parties see and hear each other (an expert assists, it does not host).
HOST_ROLES = ("mediator", "coordinator")
ADMISSIONS = ("waiting", "admitted", "removed", "left")
ROOM_STATES = ("open", "locked", "closed")
# Case statuses after which the live session is over: the room closes and stays closed.
CONCLUDED_CASE_STATUSES = FINISHED
# Sub-room names, ASCII only (the validator and rooms/PROTOCOL.md both use this one pattern).
SUBROOM_PATTERN = "[A-Za-z0-9_-]{1,32}"
_SUBROOM = re.compile(SUBROOM_PATTERN, re.ASCII)


QUALITY_LEVELS = ("good", "fair", "poor")


@dataclass(frozen=True, slots=True)
class Live:
    """A member's own media state as its client reports it (`media`, `quality`, `hand`)."""

    audio: bool = False
    video: bool = False
    screen: bool = False
    audio_only: bool = False
    hand: bool = False
    quality: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "media": {"audio": self.audio, "video": self.video, "screen": self.screen},
            "audioOnly": self.audio_only,
            "hand": self.hand,
            "quality": self.quality,
        }

    def stored(self) -> dict[str, Any]:
        return {
            "audio": self.audio,
            "video": self.video,
            "screen": self.screen,
            "audioOnly": self.audio_only,
            "hand": self.hand,
            "quality": self.quality,
        }

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> Live:
        if not data:
            return NO_MEDIA
        quality = data.get("quality")
        return cls(
            audio=bool(data.get("audio")),
            video=bool(data.get("video")),
            screen=bool(data.get("screen")),
            audio_only=bool(data.get("audioOnly")),
            hand=bool(data.get("hand")),
            quality=quality if quality in QUALITY_LEVELS else None,
        )

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Live:
        media = data.get("media") or {}
        own = {k: data.get(k) for k in ("audioOnly", "hand", "quality")}
        return cls.from_stored({**media, **own})


NO_MEDIA = Live()


@dataclass(frozen=True, slots=True)
class MemberState:
    """What every process knows about one member: durable part from the DB, `session` from
    presence (the id of the live connection, or None when offline)."""

    id: int
    role: str
    name: str
    admission: str
    subroom: str = MAIN
    session: str | None = None
    live: Live = field(default_factory=lambda: NO_MEDIA)
    consent: bool = False  # to recording

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "admission": self.admission,
            "subroom": self.subroom,
            "online": self.session is not None,
            "session": self.session,
            **self.live.wire(),
            "consent": self.consent,
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
            live=Live.from_wire(data),
            consent=bool(data.get("consent", False)),
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


def room_state_for(room_state: str, case_status: str) -> str:
    """The room's state as entering it sees it: a concluded case's room is closed."""
    return "closed" if case_status in CONCLUDED_CASE_STATUSES else room_state


def decide_join(
    role: str, existing: MemberState | None, room_state: str, same_session: bool
) -> JoinDecision | str:
    """Where a joining member lands, or an error code when it may not join at all.

    `same_session`: the joining browser session is the one the member was admitted with. A lock
    stops newcomers from entering, never from knocking: in a locked room everyone but the
    mediator knocks, except an admitted member coming back from the same session.
    """
    if room_state == "closed":
        return "room-closed"
    keep = existing.subroom if existing is not None else MAIN
    if role == "mediator":
        return JoinDecision("admitted", keep)
    if existing is not None and existing.admission == "admitted" and same_session:
        return JoinDecision("admitted", keep)  # a reconnect: same sub-room as before
    if room_state == "locked":
        return JoinDecision("waiting", MAIN)
    if role in STAFF_ROLES:
        return JoinDecision("admitted", keep)
    return JoinDecision("waiting", MAIN)


def may_host(role: str) -> bool:
    """Ask or make someone mute, record, end the session: any host (mediator, coordinator)."""
    return role in HOST_ROLES


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
    return _SUBROOM.fullmatch(name) is not None


def hosted_subrooms(members: Iterable[MemberState]) -> frozenset[str]:
    """The sub-rooms where a host is online (admitted, with a live session) right now."""
    return frozenset(
        m.subroom
        for m in members
        if m.role in HOST_ROLES and m.admission == "admitted" and m.session is not None
    )


def held(member: MemberState, hosted: frozenset[str]) -> bool:
    """An admitted party whose sub-room has no host online: it waits, connected to nobody."""
    return (
        member.role == "party" and member.admission == "admitted" and member.subroom not in hosted
    )


def may_signal(sender: MemberState, recipient: MemberState, hosted: frozenset[str]) -> bool:
    """Media may flow only between two admitted members of the same sub-room; never from or
    to the lobby, never across sub-rooms (caucus isolation rests on this one function), and a
    party only while a host is online in that sub-room (parties never meet alone, nor alone
    with an expert)."""
    return (
        sender.id != recipient.id
        and sender.admission == "admitted"
        and recipient.admission == "admitted"
        and sender.subroom == recipient.subroom
        and not held(sender, hosted)
        and not held(recipient, hosted)
    )


def sees(viewer: MemberState, other: MemberState, hosted: frozenset[str]) -> bool:
    """Whether the viewer is told the other is present (and should hold a connection to it)."""
    return other.session is not None and may_signal(viewer, other, hosted)


def lobby_of(members: list[MemberState]) -> list[MemberState]:
    """Waiting members who are knocking right now, in order of arrival (member id)."""
    return sorted(
        (m for m in members if m.admission == "waiting" and m.session is not None),
        key=lambda m: m.id,
    )


def recording_allowed(members: Iterable[MemberState]) -> bool:
    """Recording (of the joint session only) needs the consent of every member present in it."""
    return all(m.consent for m in members if present_in_main(m))


def present_in_main(member: MemberState) -> bool:
    return member.admission == "admitted" and member.subroom == MAIN and member.session is not None


def opening(appointment_start: datetime | None, minutes_before: int) -> datetime | None:
    """When a room opens for parties: `minutes_before` the appointment it belongs to (None: a
    room without an appointment, an ad-hoc session, is open whenever it is not shut)."""
    if appointment_start is None:
        return None
    return appointment_start - timedelta(minutes=minutes_before)


def not_open_yet(role: str, now: datetime, opens: datetime | None, shut: bool) -> bool:
    """Whether a member with `role` must stay out for now. Staff may always enter early. `shut`:
    the last session was ended and no later appointment is booked yet."""
    if role in STAFF_ROLES:
        return False
    return shut or (opens is not None and now < opens)
