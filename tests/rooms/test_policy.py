"""Room policy tables: pure functions, no sockets, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.policy import (
    JoinDecision,
    MemberState,
    check_admit,
    check_move,
    check_remove,
    decide_join,
    held,
    hosted_subrooms,
    lobby_of,
    may_signal,
    not_open_yet,
    opening,
    recording_allowed,
    room_role,
    room_state_for,
    sees,
    valid_subroom,
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


IN, KNOCK = JoinDecision("admitted", "main"), JoinDecision("waiting", "main")


@pytest.mark.parametrize(
    ("role", "existing", "room", "same_session", "expected"),
    [
        ("mediator", None, "open", False, IN),
        ("expert", None, "open", False, IN),
        ("coordinator", None, "open", False, IN),
        ("party", None, "open", False, KNOCK),
        ("party", m(1, admission="waiting"), "open", True, KNOCK),
        # a reconnecting admitted party returns to the same sub-room, from the same session only
        ("party", m(1, subroom="caucus-a"), "open", True, JoinDecision("admitted", "caucus-a")),
        ("party", m(1, subroom="caucus-a"), "locked", True, JoinDecision("admitted", "caucus-a")),
        ("party", m(1, subroom="caucus-a"), "open", False, KNOCK),  # a reissued link, a new phone
        ("party", m(1), "locked", False, KNOCK),
        ("party", m(1, admission="removed"), "open", True, KNOCK),
        ("party", m(1, admission="left"), "open", True, KNOCK),
        (
            "mediator",
            m(1, "mediator", subroom="caucus-b"),
            "open",
            False,
            JoinDecision("admitted", "caucus-b"),
        ),
        # a lock stops newcomers from entering, never from knocking
        ("party", None, "locked", False, KNOCK),
        ("party", m(1, admission="left"), "locked", True, KNOCK),
        ("coordinator", None, "locked", False, KNOCK),
        ("expert", m(2, "expert"), "locked", False, KNOCK),
        ("expert", m(2, "expert", subroom="c"), "locked", True, JoinDecision("admitted", "c")),
        ("mediator", None, "locked", False, IN),
        ("mediator", None, "closed", True, "room-closed"),
        ("party", m(1), "closed", True, "room-closed"),
    ],
)
def test_decide_join(role, existing, room, same_session, expected):
    assert decide_join(role, existing, room, same_session) == expected


@pytest.mark.parametrize(
    ("room", "case_status", "expected"),
    [
        ("open", "scheduled", "open"),
        ("locked", "agreement", "locked"),
        ("open", "signed", "open"),
        ("open", "filed", "open"),
        ("open", "confirmed", "closed"),
        ("locked", "dismissed", "closed"),
        ("open", "closed", "closed"),
        ("closed", "scheduled", "closed"),
    ],
)
def test_a_concluded_case_closes_its_room(room, case_status, expected):
    assert room_state_for(room, case_status) == expected


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
        (MEDIATOR, PARTY, "调解室", "invalid-message"),
        (MEDIATOR, PARTY, "caucus٣", "invalid-message"),  # a non-ASCII digit
        (MEDIATOR, PARTY, "main\n", "invalid-message"),
        (MEDIATOR, PARTY, "A_b-9" * 6 + "xy", None),
        (PARTY, PARTY, "main", "not-allowed"),
    ],
)
def test_check_move(actor, target, subroom, expected):
    assert check_move(actor, target, subroom) == expected


MAIN_HOSTED, NOBODY = frozenset({"main"}), frozenset()


@pytest.mark.parametrize(
    ("sender", "recipient", "hosted", "allowed"),
    [
        (m(1, "mediator"), m(2), MAIN_HOSTED, True),
        (m(2), m(1, "mediator"), MAIN_HOSTED, True),
        (m(2), m(3), MAIN_HOSTED, True),
        (m(2), m(2), MAIN_HOSTED, False),  # not to oneself
        (m(2, admission="waiting"), m(1, "mediator"), MAIN_HOSTED, False),  # never from the lobby
        (m(1, "mediator"), m(2, admission="waiting"), MAIN_HOSTED, False),  # never into the lobby
        (m(1, "mediator"), m(2, admission="removed"), MAIN_HOSTED, False),
        (m(1, "mediator", subroom="caucus"), m(2), MAIN_HOSTED, False),  # never across sub-rooms
        (m(2, subroom="caucus"), m(3), MAIN_HOSTED, False),
        (m(1, "mediator", subroom="caucus"), m(2, subroom="caucus"), frozenset({"caucus"}), True),
        # parties never meet without a host in their sub-room, nor with an expert alone
        (m(2), m(3), NOBODY, False),
        (m(3), m(2), NOBODY, False),
        (m(2, subroom="caucus"), m(3, subroom="caucus"), MAIN_HOSTED, False),
        (m(2), m(4, "expert"), NOBODY, False),
        (m(4, "expert"), m(2), NOBODY, False),
        (m(4, "expert"), m(5, "expert"), NOBODY, True),  # staff among themselves as before
        (m(4, "expert"), m(6, "coordinator"), NOBODY, True),
        (m(2), m(6, "coordinator"), MAIN_HOSTED, True),
        (m(2), m(4, "expert"), MAIN_HOSTED, True),
    ],
)
def test_may_signal(sender, recipient, hosted, allowed):
    assert may_signal(sender, recipient, hosted) is allowed


@pytest.mark.parametrize(
    ("members", "hosted"),
    [
        ([m(1, "mediator"), m(2)], {"main"}),
        ([m(1, "mediator", session=None), m(2)], set()),  # offline
        ([m(1, "coordinator", subroom="c"), m(2)], {"c"}),
        ([m(1, "expert"), m(2)], set()),  # an expert is no host
        ([m(1, "coordinator", admission="waiting"), m(2)], set()),  # knocking in a locked room
        ([m(1, "mediator", subroom="c"), m(3, "coordinator")], {"c", "main"}),
    ],
)
def test_hosted_subrooms(members, hosted):
    assert hosted_subrooms(members) == hosted


@pytest.mark.parametrize(
    ("member", "hosted", "is_held"),
    [
        (m(2), MAIN_HOSTED, False),
        (m(2), NOBODY, True),
        (m(2, subroom="c"), MAIN_HOSTED, True),
        (m(2, admission="waiting"), NOBODY, False),  # knocking is not being held
        (m(4, "expert"), NOBODY, False),
        (m(1, "mediator"), NOBODY, False),
    ],
)
def test_held(member, hosted, is_held):
    assert held(member, hosted) is is_held


def test_subroom_names_are_ascii():
    assert valid_subroom("main") and valid_subroom("caucus-a_1")
    assert not valid_subroom("调解室") and not valid_subroom("ｃａｕｃｕｓ")


def test_only_online_members_are_seen_and_in_the_lobby():
    viewer = m(1, "mediator")
    assert sees(viewer, m(2), MAIN_HOSTED) and not sees(viewer, m(2, session=None), MAIN_HOSTED)
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


# --- opening time, recording consent ----------------------------------------------------------

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_room_opens_a_set_time_before_its_appointment():
    assert opening(NOON, 30) == NOON - timedelta(minutes=30)
    assert opening(None, 30) is None


@pytest.mark.parametrize(
    ("role", "now", "opens", "shut", "kept_out"),
    [
        ("party", NOON - timedelta(minutes=31), NOON - timedelta(minutes=30), False, True),
        ("party", NOON - timedelta(minutes=30), NOON - timedelta(minutes=30), False, False),
        ("party", NOON, None, False, False),  # no appointment: an ad-hoc session
        ("party", NOON, None, True, True),  # ended, nothing booked since
        ("mediator", NOON - timedelta(days=1), NOON, False, False),  # staff may enter early
        ("expert", NOON, None, True, False),
        ("coordinator", NOON - timedelta(hours=5), NOON, False, False),
    ],
)
def test_who_must_wait_for_the_room_to_open(role, now, opens, shut, kept_out):
    assert not_open_yet(role, now, opens, shut) is kept_out


def c(id_: int, consent: bool, subroom: str = "main", online: bool = True, adm: str = "admitted"):
    return MemberState(id_, "party", "p", adm, subroom, "s" if online else None, consent=consent)


@pytest.mark.parametrize(
    ("members", "allowed"),
    [
        ([c(1, True), c(2, True)], True),
        ([c(1, True), c(2, False)], False),
        ([c(1, True), c(2, False, subroom="caucus")], True),  # only the joint session counts
        ([c(1, True), c(2, False, online=False)], True),  # present means online
        ([c(1, True), c(2, False, adm="waiting")], True),  # knocking is not present
        ([], True),
    ],
)
def test_recording_needs_everyone_present_in_the_joint_session(members, allowed):
    assert recording_allowed(members) is allowed
