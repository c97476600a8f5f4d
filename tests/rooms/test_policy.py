"""Room policy tables: pure functions, no sockets, no database."""

from __future__ import annotations

import pytest

from rooms.policy import (
    JoinDecision,
    MemberState,
    check_admit,
    check_move,
    check_remove,
    decide_join,
    lobby_of,
    may_signal,
    room_role,
    sees,
)


def m(
    id_: int,
    role: str = "party",
    admission: str = "admitted",
    subroom: str = "main",
    session: str | None = "s",
) -> MemberState:
    return MemberState(id_, role, f"m{id_}", admission, subroom, session)


@pytest.mark.parametrize(
    ("kind", "staff_role", "expected"),
    [
        ("party", None, "party"),
        ("staff", "mediator", "mediator"),
        ("staff", "expert", "expert"),
        ("staff", "coordinator", "coordinator"),
        ("staff", "admin", "coordinator"),
        ("staff", "court_clerk", None),
        ("anonymous", None, None),
    ],
)
def test_room_role(kind, staff_role, expected):
    assert room_role(kind, staff_role) == expected


@pytest.mark.parametrize(
    ("role", "existing", "room", "expected"),
    [
        ("mediator", None, "open", JoinDecision("admitted", "main")),
        ("expert", None, "open", JoinDecision("admitted", "main")),
        ("coordinator", None, "open", JoinDecision("admitted", "main")),
        ("party", None, "open", JoinDecision("waiting", "main")),
        ("party", m(1, admission="waiting"), "open", JoinDecision("waiting", "main")),
        # a reconnecting admitted party returns to the same sub-room
        ("party", m(1, subroom="caucus-a"), "open", JoinDecision("admitted", "caucus-a")),
        ("party", m(1, subroom="caucus-a"), "locked", JoinDecision("admitted", "caucus-a")),
        ("party", m(1, admission="removed"), "open", JoinDecision("waiting", "main")),
        ("party", m(1, admission="left"), "open", JoinDecision("waiting", "main")),
        (
            "mediator",
            m(1, "mediator", subroom="caucus-b"),
            "open",
            JoinDecision("admitted", "caucus-b"),
        ),
        ("party", None, "locked", "room-locked"),
        ("party", m(1, admission="left"), "locked", "room-locked"),
        ("mediator", None, "locked", JoinDecision("admitted", "main")),
        ("mediator", None, "closed", "room-closed"),
        ("party", m(1), "closed", "room-closed"),
    ],
)
def test_decide_join(role, existing, room, expected):
    assert decide_join(role, existing, room) == expected


MEDIATOR, EXPERT, PARTY = m(1, "mediator"), m(2, "expert"), m(3, "party")


@pytest.mark.parametrize(
    ("actor", "target", "expected"),
    [
        (MEDIATOR, m(3, admission="waiting"), None),
        (MEDIATOR, m(3, admission="removed"), None),
        (MEDIATOR, m(3), "already-admitted"),
        (MEDIATOR, None, "no-such-member"),
        (EXPERT, m(3, admission="waiting"), "not-allowed"),
        (PARTY, m(4, admission="waiting"), "not-allowed"),
        (m(5, "coordinator"), m(3, admission="waiting"), "not-allowed"),
    ],
)
def test_check_admit(actor, target, expected):
    assert check_admit(actor, target) == expected


@pytest.mark.parametrize(
    ("actor", "target", "expected"),
    [
        (MEDIATOR, PARTY, None),
        (MEDIATOR, EXPERT, None),
        (MEDIATOR, m(3, admission="waiting"), None),
        (MEDIATOR, MEDIATOR, "not-allowed"),
        (MEDIATOR, None, "no-such-member"),
        (PARTY, m(4), "not-allowed"),
        (EXPERT, PARTY, "not-allowed"),
    ],
)
def test_check_remove(actor, target, expected):
    assert check_remove(actor, target) == expected


@pytest.mark.parametrize(
    ("actor", "target", "subroom", "expected"),
    [
        (MEDIATOR, PARTY, "caucus-a", None),
        (MEDIATOR, MEDIATOR, "caucus-a", None),
        (MEDIATOR, m(3, admission="waiting"), "caucus-a", "not-admitted"),
        (MEDIATOR, PARTY, "", "invalid-message"),
        (MEDIATOR, PARTY, "a b", "invalid-message"),
        (MEDIATOR, PARTY, "x" * 33, "invalid-message"),
        (PARTY, PARTY, "main", "not-allowed"),
    ],
)
def test_check_move(actor, target, subroom, expected):
    assert check_move(actor, target, subroom) == expected


@pytest.mark.parametrize(
    ("sender", "recipient", "allowed"),
    [
        (m(1, "mediator"), m(2), True),
        (m(2), m(1, "mediator"), True),
        (m(2), m(3), True),
        (m(2), m(2), False),  # not to oneself
        (m(2, admission="waiting"), m(1, "mediator"), False),  # never from the lobby
        (m(1, "mediator"), m(2, admission="waiting"), False),  # never into the lobby
        (m(1, "mediator"), m(2, admission="removed"), False),
        (m(1, "mediator", subroom="caucus"), m(2), False),  # never across sub-rooms
        (m(2, subroom="caucus"), m(3), False),
        (m(1, "mediator", subroom="caucus"), m(2, subroom="caucus"), True),
    ],
)
def test_may_signal(sender, recipient, allowed):
    assert may_signal(sender, recipient) is allowed


def test_only_online_members_are_seen_and_in_the_lobby():
    viewer = m(1, "mediator")
    assert sees(viewer, m(2)) and not sees(viewer, m(2, session=None))
    members = [
        m(4, admission="waiting"),
        m(3, admission="waiting", session=None),
        m(2, admission="waiting"),
        m(5),
    ]
    assert [x.id for x in lobby_of(members)] == [2, 4]


def test_wire_round_trip():
    member = m(3, subroom="caucus-a", session="abc")
    assert MemberState.from_wire(member.wire()) == member
