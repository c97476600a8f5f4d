"""The case timeline is hash-chained: `python -m app verify-audit` finds the first edited or
deleted event, and concurrent writers never fork a case's chain."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from sqlalchemy import delete, select, update

from app.audit import append_event, verify_chain
from app.cli import cmd_verify_audit
from app.db import sessionmaker_key, transaction
from app.models import CaseEvent
from app.services import record_event
from app.settings import settings_key
from tests.builders import effective, scheduled


async def events(app) -> list[CaseEvent]:
    async with app[sessionmaker_key]() as db:
        query = select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.id)
        return list(await db.scalars(query))


async def audit(app, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = await cmd_verify_audit(app[settings_key], argparse.Namespace())
    return status, capsys.readouterr().out


async def test_an_edited_or_deleted_event_is_named(app, demo, capsys) -> None:
    agreement = await effective(app, demo)
    chain = [ev for ev in await events(app) if ev.case_id == agreement.case_id]
    assert len(chain) >= 5 and all(ev.hash for ev in chain)
    assert chain[0].prev_hash is None and chain[1].prev_hash == chain[0].hash
    assert await audit(app, capsys) == (0, "every case's timeline is intact\n")

    edited = chain[2]
    async with transaction(app) as db:
        await db.execute(
            update(CaseEvent).where(CaseEvent.id == edited.id).values(actor="staff:999")
        )
    status, out = await audit(app, capsys)
    assert status == 1 and f"event {edited.id}: edited" in out
    async with transaction(app) as db:  # put it back, then delete one
        await db.execute(
            update(CaseEvent).where(CaseEvent.id == edited.id).values(actor=edited.actor)
        )
        await db.execute(delete(CaseEvent).where(CaseEvent.id == chain[1].id))
    status, out = await audit(app, capsys)
    assert status == 1 and f"event {chain[2].id}: deleted-before" in out


async def test_concurrent_writers_extend_one_chain(app, demo) -> None:
    case_id = demo["case"]

    async def write(n: int) -> None:
        async with transaction(app) as db:
            await record_event(db, case_id, "note", "system", {"n": n})
            await record_event(db, case_id, "note", "system", {"n": n, "second": True})

    await asyncio.gather(*(write(n) for n in range(12)))
    assert verify_chain(await events(app)) is None
    hashes = [ev.prev_hash for ev in await events(app) if ev.case_id == case_id]
    assert len(hashes) == len(set(hashes))  # no two events claim the same predecessor


async def test_one_flush_chains_events_of_several_cases(app, demo) -> None:
    first, second = await scheduled(app, demo), await scheduled(app, demo)
    async with transaction(app) as db:
        for n in range(3):
            for case_id in (second, first):
                await record_event(db, case_id, "note", "system", {"n": n})
    assert verify_chain(await events(app)) is None
    for case_id in (first, second):
        chain = [ev for ev in await events(app) if ev.case_id == case_id]
        assert [ev.prev_hash for ev in chain[1:]] == [ev.hash for ev in chain[:-1]]


async def test_a_case_lock_taken_by_a_status_move_serves_only_its_own_transaction(app, demo):
    """advance() locks the case row, so its event needs no second lock; the next transaction
    of the same session holds nothing and must lock again."""
    from sqlalchemy import event

    from app.db import engine_key
    from app.lifecycle import CaseStatus, advance
    from app.models import Case

    locks: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "FOR UPDATE" in statement or "SET id=cases.id" in statement:
            locks.append(statement)

    engine = app[engine_key].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with app[sessionmaker_key]() as db:
            async with db.begin():
                case = await db.get(Case, demo["case"])
                assert case is not None and case.status == "applied"
                await advance(db, case, CaseStatus.REGISTERED, "test")
                await db.flush()
            assert locks == []
            async with db.begin():
                await record_event(db, demo["case"], "note", "test")
                await db.flush()
            assert len(locks) == 1
    finally:
        event.remove(engine, "before_cursor_execute", record)
    chain = [ev for ev in await events(app) if ev.case_id == demo["case"]]
    assert verify_chain(chain) is None and chain[-1].prev_hash == chain[-2].hash


async def test_an_event_written_at_once_chains_like_a_flushed_one(app, demo) -> None:
    """`append_event` (Core statements, no flush) links after the events still pending in the
    session, takes the case's lock when the transaction does not hold it, and hashes exactly
    as a flushed event: the chain verifies, whichever way each event was written."""
    case_id = await scheduled(app, demo)
    async with transaction(app) as db:
        await record_event(db, case_id, "note", "system", {"n": 1})  # pending, not flushed
        await append_event(db, case_id, "note", "system", {"n": 2, "名": "调解"}, public=False)
        await record_event(db, case_id, "note", "system", {"n": 3})
    assert verify_chain(await events(app)) is None
    chain = [ev for ev in await events(app) if ev.case_id == case_id]
    assert [ev.data.get("n") for ev in chain[-3:]] == [1, 2, 3]
    assert [ev.prev_hash for ev in chain[1:]] == [ev.hash for ev in chain[:-1]]
    assert chain[-2].public is False and all(ev.hash for ev in chain)


async def test_concurrent_direct_and_flushed_writers_extend_one_chain(app, demo) -> None:
    case_id = demo["case"]

    async def write(n: int) -> None:
        async with transaction(app) as db:
            if n % 2:
                await append_event(db, case_id, "note", "system", {"n": n})
            else:
                await record_event(db, case_id, "note", "system", {"n": n})

    await asyncio.gather(*(write(n) for n in range(12)))
    assert verify_chain(await events(app)) is None
    hashes = [ev.prev_hash for ev in await events(app) if ev.case_id == case_id]
    assert len(hashes) == len(set(hashes))
