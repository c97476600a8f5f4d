"""Who must be told what when the room changes: one member's view of the room before and after a
change, in, the messages that member receives, out. Pure: no sockets, no database; the
signaling actor applies it to every bus event and tests/rooms/test_audience.py holds the tables.

Who makes the offers, so that no pair of members offers twice:
  - a member whose own view changed (it joined, was admitted, was moved, its sub-room lost and
    regained its host) calls; the others are told `member-joined` and answer;
  - when a host's arrival lets held parties out, the host calls everyone; between two parties
    released together the higher id calls; a released party calls the non-host staff (an
    expert) who waited there, since they were never held.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rooms.policy import HOST_ROLES, MemberState, held, hosted_subrooms, sees
from rooms.protocol import outgoing

Room = Mapping[int, MemberState]
NO_HOST = "no-host"  # member-left and waiting reason: the last host of the sub-room went away
LOBBY = "lobby"  # waiting reason: knocking, until the mediator admits


def visible(me: MemberState, room: Room) -> list[MemberState]:
    """The members `me` holds a connection to, in id order."""
    hosted = hosted_subrooms(room.values())
    return [m for m in sorted(room.values(), key=lambda m: m.id) if sees(me, m, hosted)]


def waiting_reason(me: MemberState, room: Room) -> str | None:
    """Why `me` waits (`lobby`, `no-host`), or None when it is in the room."""
    if me.admission != "admitted":
        return LOBBY
    return NO_HOST if held(me, hosted_subrooms(room.values())) else None


def tell(me_id: int, before: Room, after: Room, subject: int, reason: str) -> list[dict[str, Any]]:
    """The messages member `me_id` receives when the room goes from `before` to `after` because
    of a change to member `subject` (`reason`: the bus event's reason). Both maps hold every
    member, with `session` set for those online."""
    me_b, me_a = before[me_id], after[me_id]
    seen_b = {m.id: m for m in visible(me_b, before)}
    seen_a = {m.id: m for m in visible(me_a, after)}
    if subject == me_id:
        return _self_changed(me_b, me_a, before, after, seen_b, list(seen_a.values()))
    left = [m for i, m in seen_b.items() if i not in seen_a]
    joined = [m for i, m in seen_a.items() if i not in seen_b or seen_b[i].session != m.session]
    gone = [_left(m, reason if m.id == subject else NO_HOST) for m in left]
    hosted_b, hosted_a = hosted_subrooms(before.values()), hosted_subrooms(after.values())
    held_b, held_a = held(me_b, hosted_b), held(me_a, hosted_a)
    if held_a and not held_b:
        return [*gone, outgoing("waiting", you=me_a.wire(), reason=NO_HOST)]
    if held_b and not held_a:
        calls = [m for m in joined if _released_calls(me_a, m, subject, hosted_b)]
        answers = [m for m in joined if m not in calls]
        return [
            outgoing("admitted", you=me_a.wire(), members=[m.wire() for m in calls]),
            *(outgoing("member-joined", member=m.wire()) for m in answers),
        ]
    return [*gone, *(outgoing("member-joined", member=m.wire()) for m in joined)]


def _released_calls(
    me: MemberState, other: MemberState, subject: int, hosted_before: frozenset[str]
) -> bool:
    """Whether `me`, a party just released from waiting, calls `other` (else `other` calls)."""
    if other.id == subject:
        return False  # the host who arrived calls everyone
    if held(other, hosted_before):
        return me.id > other.id  # two parties released together: the higher id calls
    return True  # staff who waited there (never held) answer the released party


def _self_changed(
    me_b: MemberState,
    me_a: MemberState,
    before: Room,
    after: Room,
    seen_b: Mapping[int, MemberState],
    seen_a: list[MemberState],
) -> list[dict[str, Any]]:
    """The member itself was admitted, moved, sent back to the lobby or removed."""
    if me_a.admission == "removed":
        return [outgoing("removed", you=me_a.wire())]
    if me_a.admission != "admitted":
        return [outgoing("waiting", you=me_a.wire(), reason=LOBBY)]
    if held(me_a, hosted_subrooms(after.values())):
        if me_b.admission == me_a.admission and me_b.subroom == me_a.subroom:
            return []
        gone = [_left(m, "moved") for m in seen_b.values()]
        return [*gone, outgoing("waiting", you=me_a.wire(), reason=NO_HOST)]
    members = [m.wire() for m in seen_a]
    if me_b.admission != "admitted":
        return [outgoing("admitted", you=me_a.wire(), members=members)]
    if me_b.subroom != me_a.subroom or held(me_b, hosted_subrooms(before.values())):
        return [outgoing("moved", you=me_a.wire(), members=members)]
    return []


def _left(member: MemberState, reason: str) -> dict[str, Any]:
    return outgoing("member-left", member=member.wire(), reason=reason)


# --- messages about one member's own state, and messages to a few ---------------------------


def hears_update(me: MemberState, room: Room, subject: int) -> bool:
    """Whether `me` is told `member-updated` about `subject` (its media, hand, quality or
    consent changed): the member itself and everyone who sees it."""
    if me.id == subject:
        return True
    other = room.get(subject)
    return other is not None and sees(me, other, hosted_subrooms(room.values()))


def hears_call(me: MemberState) -> bool:
    """`host-called` reaches every admitted host of the room, in whichever sub-room it is."""
    return me.role in HOST_ROLES and me.admission == "admitted" and me.session is not None


def may_call(me: MemberState) -> bool:
    """Any admitted member may call the hosts, a held party included (that is when it needs to)."""
    return me.admission == "admitted"


def chat_audience(sender: MemberState, room: Room) -> list[int]:
    """Who receives (and may later read) a chat message: the sender and every member it sees,
    so exactly those in its sub-room who could hear it. A held party talks to nobody else."""
    return [sender.id, *(m.id for m in visible(sender, room) if m.id != sender.id)]
