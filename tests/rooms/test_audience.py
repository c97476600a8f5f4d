"""Who is told what when the room changes (rooms/audience.py): tables, no sockets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rooms.audience import (
    chat_audience,
    hears_call,
    hears_update,
    may_call,
    tell,
    visible,
    waiting_reason,
)
from rooms.policy import MemberState

MED, A, B, EXPERT, COORD = 1, 2, 3, 4, 5


def m(id_: int, role: str = "party", subroom: str = "main", online: bool = True) -> MemberState:
    return MemberState(id_, role, f"m{id_}", "admitted", subroom, f"s{id_}" if online else None)


def room(*members: MemberState) -> dict[int, MemberState]:
    return {x.id: x for x in members}


def summary(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each message as a short tuple: what it says and about whom."""
    out: list[tuple[Any, ...]] = []
    for msg in messages:
        kind = msg["type"]
        if kind == "member-left":
            out.append((kind, msg["member"]["id"], msg["reason"]))
        elif kind == "member-joined":
            out.append((kind, msg["member"]["id"]))
        elif kind in ("admitted", "moved"):
            out.append((kind, [x["id"] for x in msg["members"]]))
        elif kind == "waiting":
            out.append((kind, msg["reason"]))
        else:
            out.append((kind,))
    return out


FULL = room(m(MED, "mediator"), m(A), m(B), m(EXPERT, "expert"))
NO_MEDIATOR = {**FULL, MED: m(MED, "mediator", online=False)}


@pytest.mark.parametrize(
    ("me", "expected"),
    [
        (
            A,
            [
                ("member-left", MED, "disconnected"),
                ("member-left", B, "no-host"),
                ("member-left", EXPERT, "no-host"),
                ("waiting", "no-host"),
            ],
        ),
        (
            B,
            [
                ("member-left", MED, "disconnected"),
                ("member-left", A, "no-host"),
                ("member-left", EXPERT, "no-host"),
                ("waiting", "no-host"),
            ],
        ),
        (
            EXPERT,
            [
                ("member-left", MED, "disconnected"),
                ("member-left", A, "no-host"),
                ("member-left", B, "no-host"),
            ],
        ),
    ],
)
def test_the_last_host_leaves(me, expected):
    assert summary(tell(me, FULL, NO_MEDIATOR, MED, "disconnected")) == expected


@pytest.mark.parametrize(
    ("me", "expected"),
    [
        # The returning host calls everyone; of the two parties the higher id (B) calls; both
        # call the expert, who was never held.
        (A, [("admitted", [EXPERT]), ("member-joined", MED), ("member-joined", B)]),
        (B, [("admitted", [A, EXPERT]), ("member-joined", MED)]),
        (EXPERT, [("member-joined", MED), ("member-joined", A), ("member-joined", B)]),
    ],
)
def test_a_host_returns(me, expected):
    back = {**FULL, MED: m(MED, "mediator", online=True)}
    back[MED] = replace(back[MED], session="s1-again")
    assert summary(tell(me, NO_MEDIATOR, back, MED, "joined")) == expected


def test_every_pair_is_called_exactly_once_when_a_host_returns():
    members = [m(MED, "mediator", online=False), *(m(i) for i in (7, 3, 9, 4)), m(8, "expert")]
    before = room(*members)
    after = {**before, MED: m(MED, "mediator")}
    calls: set[tuple[int, int]] = set()
    for me in after:
        if me == MED:
            # the host's own arrival: its welcome lists everyone it may see, and it calls them
            calls |= {(MED, x.id) for x in visible(after[MED], after)}
            continue
        for msg in tell(me, before, after, MED, "joined"):
            if msg["type"] == "admitted":
                calls |= {(me, x["id"]) for x in msg["members"]}
    pairs = {frozenset(c) for c in calls}
    assert len(pairs) == len(calls), "some pair would offer twice"
    connected = {frozenset((x, y)) for x in after for y in after if x < y}
    assert pairs == connected


def test_another_host_keeps_the_room_going():
    before = {**FULL, COORD: m(COORD, "coordinator")}
    after = {**before, MED: m(MED, "mediator", online=False)}
    assert summary(tell(A, before, after, MED, "disconnected")) == [
        ("member-left", MED, "disconnected")
    ]


def test_a_party_arriving_without_a_host_sees_nobody_and_nobody_sees_it():
    before = room(m(MED, "mediator", online=False), m(A), m(B, online=False), m(EXPERT, "expert"))
    after = {**before, B: m(B)}
    assert tell(A, before, after, B, "joined") == []
    assert tell(EXPERT, before, after, B, "joined") == []
    assert waiting_reason(after[B], after) == "no-host"
    assert visible(after[B], after) == []


def test_a_caucus_moves_party_first_then_mediator():
    start = room(m(MED, "mediator"), m(A), m(B))
    a_out = {**start, A: m(A, subroom="caucus")}
    # A is alone in the caucus: held until the mediator follows.
    assert summary(tell(A, start, a_out, A, "moved")) == [
        ("member-left", MED, "moved"),
        ("member-left", B, "moved"),
        ("waiting", "no-host"),
    ]
    assert summary(tell(B, start, a_out, A, "moved")) == [("member-left", A, "moved")]
    both_out = {**a_out, MED: m(MED, "mediator", subroom="caucus")}
    assert summary(tell(MED, a_out, both_out, MED, "moved")) == [("moved", [A])]
    assert summary(tell(A, a_out, both_out, MED, "moved")) == [
        ("admitted", []),
        ("member-joined", MED),
    ]
    assert summary(tell(B, a_out, both_out, MED, "moved")) == [
        ("member-left", MED, "moved"),
        ("waiting", "no-host"),
    ]


@pytest.mark.parametrize(
    ("before_a", "after_a", "expected"),
    [
        (
            replace(m(A), admission="waiting"),
            m(A),
            [("admitted", [MED, B])],
        ),
        (m(A), replace(m(A), admission="removed"), [("removed",)]),
        (
            m(A),
            m(A, subroom="c"),
            [("member-left", MED, "moved"), ("member-left", B, "moved"), ("waiting", "no-host")],
        ),
        (m(A), m(A), []),
    ],
)
def test_changes_to_oneself(before_a, after_a, expected):
    base = room(m(MED, "mediator"), m(B))
    assert summary(tell(A, {**base, A: before_a}, {**base, A: after_a}, A, "x")) == expected


def test_admitted_into_a_sub_room_without_a_host_waits():
    base = room(m(MED, "mediator", subroom="caucus"), m(B))
    before, after = {**base, A: replace(m(A), admission="waiting")}, {**base, A: m(A)}
    assert summary(tell(A, before, after, A, "admitted")) == [("waiting", "no-host")]


def test_a_reconnect_is_a_new_member_joined():
    after = {**FULL, B: replace(FULL[B], session="new")}
    assert summary(tell(A, FULL, after, B, "joined")) == [("member-joined", B)]


# --- member-updated, host-called, chat: who hears it ----------------------------------------

CAUCUS = room(
    m(MED, "mediator", "caucus"),
    m(A, subroom="caucus"),
    m(B),
    m(EXPERT, "expert"),
    m(COORD, "coordinator"),
)
LOBBY_A = {**FULL, A: replace(m(A), admission="waiting")}


@pytest.mark.parametrize(
    ("members", "me", "subject", "hears"),
    [
        (FULL, B, A, True),  # same sub-room, host present
        (FULL, A, A, True),  # one's own change
        (FULL, EXPERT, A, True),
        (CAUCUS, B, A, False),  # across sub-rooms: never
        (CAUCUS, MED, A, True),
        (CAUCUS, COORD, B, True),
        (CAUCUS, MED, B, False),  # the mediator in the caucus does not see the joint room
        (NO_MEDIATOR, B, A, False),  # held parties see nobody
        (NO_MEDIATOR, EXPERT, A, False),
        (LOBBY_A, MED, A, False),  # a knock is in `lobby`, not in the room
        (FULL, B, 99, False),  # unknown member
    ],
)
def test_who_hears_a_member_update(members, me, subject, hears):
    assert hears_update(members[me], members, subject) is hears


@pytest.mark.parametrize(
    ("member", "hears"),
    [
        (m(MED, "mediator", "caucus"), True),  # wherever the host is
        (m(COORD, "coordinator"), True),
        (m(EXPERT, "expert"), False),
        (m(A), False),
        (m(MED, "mediator", online=False), False),
        (replace(m(COORD, "coordinator"), admission="waiting"), False),  # knocking, not hosting
    ],
)
def test_who_hears_a_call_for_the_host(member, hears):
    assert hears_call(member) is hears


@pytest.mark.parametrize(
    ("members", "sender", "audience"),
    [
        (FULL, A, [A, MED, B, EXPERT]),
        (FULL, MED, [MED, A, B, EXPERT]),
        (CAUCUS, A, [A, MED]),  # a caucus message stays in the caucus
        (CAUCUS, B, [B, EXPERT, COORD]),  # the joint room keeps its host (the coordinator)
        (NO_MEDIATOR, A, [A]),  # held: talks to nobody else
        (NO_MEDIATOR, EXPERT, [EXPERT]),  # the expert does not reach held parties either
    ],
)
def test_chat_reaches_exactly_who_could_hear(members, sender, audience):
    assert chat_audience(members[sender], members) == audience


def test_may_call_only_from_inside_the_room():
    assert may_call(m(A)) and may_call(NO_MEDIATOR[A])
    assert not may_call(LOBBY_A[A])
