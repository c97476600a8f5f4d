"""SQLite writers of one engine queue in the process (app.db._queue_writers) instead of
polling SQLite's lock: with SQLite's own wait switched off, concurrent writers still all land,
and a writer that fails or rolls back hands its turn on."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.db import make_engine
from app.models import Job


def _engine(sqlite_template: Path, tmp_path: Path) -> AsyncEngine:
    path = tmp_path / "writers.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")

    def no_busy_wait(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # After the engine's own pragmas: a writer that meets the lock now fails at once.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    event.listen(engine.sync_engine, "connect", no_busy_wait)
    return engine


async def _write_twice(engine: AsyncEngine, n: int, *, fail: bool = False) -> None:
    async with async_sessionmaker(engine)() as db, db.begin():
        await db.execute(insert(Job), [{"kind": "test", "payload": {"n": n}}])
        await asyncio.sleep(0.001)  # other writers run meanwhile
        await db.execute(insert(Job), [{"kind": "test", "payload": {"n": n}}])
        if fail:
            raise RuntimeError("rolled back")


async def test_concurrent_writers_queue_instead_of_meeting_the_lock(sqlite_template, tmp_path):
    engine = _engine(sqlite_template, tmp_path)
    try:
        results = await asyncio.gather(
            *(_write_twice(engine, n, fail=n % 5 == 0) for n in range(30)),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, RuntimeError) for r in failed) and len(failed) == 6, failed
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Job)) == 48
        await asyncio.wait_for(_write_twice(engine, 99), 5)  # every turn was handed on
    finally:
        await engine.dispose()


async def test_without_the_queue_the_same_writers_meet_the_lock(sqlite_template, tmp_path):
    """The control: the same writers on an engine without the queue fail on SQLite's lock, so
    the test above would fail if the queue did nothing."""
    path = tmp_path / "control.db"
    shutil.copy(sqlite_template, path)
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0})
    try:
        results = await asyncio.gather(
            *(_write_twice(engine, n) for n in range(30)), return_exceptions=True
        )
        assert any("locked" in str(r) for r in results if isinstance(r, BaseException))
    finally:
        await engine.dispose()
