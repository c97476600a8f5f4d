"""What a join costs the database: one transaction of a few statements and one read after its
commit (the revocation check), on one pooled connection, whatever the number of members."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, text

from app.db import dialect_of, engine_key, sessionmaker_key
from rooms.models import RoomMember
from rooms.protocol import CLOSE_CODES
from tests.booking.test_desk import statements
from tests.rooms.conftest import Member, join, open_socket


async def costed(app: Any, browser: Any, room: int) -> tuple[Member, list[str]]:
    with statements(app) as seen:
        member, _ = await join(browser, room)
        await member.quiet(0.2)
    return member, [s.split()[0] for s in seen]


async def test_a_join_runs_a_fixed_handful_of_statements(
    app, mediator, applicant, respondent, room
):
    sqlite = app[engine_key].dialect.name == "sqlite"
    with checkouts(app) as taken:
        _med, first = await costed(app, mediator, room)
    assert taken == [1]  # the upgrade opens no database session: the join reads the cookie
    # The session with its person (PostgreSQL: share-locked until the commit), the snapshot (a
    # room without an appointment reads the case's next one in it too), the member's insert,
    # the chat history; SQLite reads the session again after its write (rooms/arrival.py).
    assert [s for s in first if s not in ("BEGIN", "COMMIT", "ROLLBACK")] == [
        "SELECT",
        "SELECT",
        "INSERT",
        "SELECT",
        *(["SELECT"] if sqlite else []),
    ], first
    party, knock = await costed(app, applicant, room)
    await party.ws.close()
    _party, small = await costed(app, applicant, room)  # returning: at most an UPDATE
    assert "INSERT" not in small and small.count("UPDATE") <= 1
    _other, _ = await costed(app, respondent, room)
    await _party.ws.close()
    _again, big = await costed(app, applicant, room)
    assert big == small  # one more member in the room, not one more statement
    most = 5 if sqlite else 4  # a knock reads no chat
    assert len(knock) <= most and len(small) <= most, (knock, small)


@contextmanager
def checkouts(app: Any) -> Iterator[list[int]]:
    """Counts the engine's pool checkouts (one item: the count, read after the block)."""
    taken = [0]

    def count(*_args: Any) -> None:
        taken[0] += 1

    pool = app[engine_key].sync_engine.pool
    event.listen(pool, "checkout", count)
    try:
        yield taken
    finally:
        event.remove(pool, "checkout", count)


async def test_sqlite_commits_to_the_wal_without_waiting_for_the_disk(app, client):
    """WAL with synchronous=NORMAL (docs/decisions.md, "SQLite commits"); PostgreSQL keeps its
    synchronous commits."""
    async with app[sessionmaker_key]() as db:
        if dialect_of(db) == "sqlite":
            assert (await db.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await db.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
        else:
            assert (await db.execute(text("SHOW synchronous_commit"))).scalar() == "on"


async def test_first_joins_of_one_person_from_many_windows_at_once(app, mediator, room):
    """The member row is inserted once (ON CONFLICT DO NOTHING; the losers update the winner's
    row); every window gets a welcome as the same member, and exactly one socket stays: the one
    whose arrival was published last."""
    sockets = await asyncio.gather(*(open_socket(mediator, room) for _ in range(8)))
    members = [Member(ws) for ws in sockets]
    await asyncio.gather(*(m.send(type="join") for m in members))
    welcomes = await asyncio.gather(*(m.expect("welcome", within=20) for m in members))
    assert len({w["you"]["id"] for w in welcomes}) == 1
    async with app[sessionmaker_key]() as db:
        rows = (await db.execute(select(RoomMember.id).where(RoomMember.room_id == room))).all()
    assert len(rows) == 1
    outcomes = await asyncio.gather(*(outcome(m) for m in members))
    # Before, every window could see another's arrival as newer and all of them closed.
    assert outcomes.count(None) == 1, outcomes
    assert outcomes.count(CLOSE_CODES["replaced"]) == len(members) - 1, outcomes


async def outcome(member: Member, within: float = 3.0) -> int | None:
    """The socket's close code, or None if it is still open after `within` seconds."""
    try:
        return await member.closed(within)
    except TimeoutError:
        return None


async def admit_cost(app: Any, med: Member, party: Member) -> list[str]:
    """The statements of one `admit`, from the mediator's message to the party's `admitted`."""
    with statements(app) as seen:
        await med.send(type="admit", member=party.you["id"])
        await party.expect("admitted")
        await med.quiet(0.2)
    return [s.split()[0] for s in seen if s.split()[0] not in ("BEGIN", "COMMIT", "ROLLBACK")]


async def test_an_admit_writes_first_in_two_statements_whatever_the_room(
    app, mediator, applicant, respondent, room
):
    med, _ = await join(mediator, room)
    first, _ = await join(applicant, room)
    # One conditional write (it takes the lock: SQLite's write lock is held from the first
    # statement), then the chat history the admitted party is sent.
    assert await admit_cost(app, med, first) == ["UPDATE", "SELECT"]
    second, _ = await join(respondent, room)
    assert await admit_cost(app, med, second) == ["UPDATE", "SELECT"]


async def test_an_admit_that_cannot_happen_says_why_and_writes_nothing(
    app, mediator, applicant, room
):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    for target, code in (
        (party.you["id"], "already-admitted"),
        (424242, "no-such-member"),
        (med.you["id"], "already-admitted"),
    ):
        await med.send(type="admit", member=target)
        error = await med.expect("error")
        assert (error["code"], error["about"]) == (code, "admit")
    async with app[sessionmaker_key]() as db:
        rows = await db.execute(select(RoomMember.admission).where(RoomMember.room_id == room))
        assert sorted(a for (a,) in rows) == ["admitted", "admitted"]
