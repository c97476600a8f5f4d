"""app/sqlite_driver.py: each statement crosses to aiosqlite's thread once, with the results
SQLAlchemy's own adapter gives (rows, rowcount, lastrowid, errors)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db import make_engine
from app.models import Job, Organization


class Crossings:
    """Counts the functions queued to aiosqlite's thread (its one way across)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = aiosqlite.Connection._execute

        async def counted(conn: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(conn, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


def _copy(sqlite_template: Path, tmp_path: Path) -> str:
    shutil.copy(sqlite_template, tmp_path / "driver.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"


async def _exercise(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.begin() as conn:
        org = await conn.execute(
            insert(Organization),
            [{"name": "松陵镇", "short_name": "松", "kind": "mediation", "tier": "town"}],
        )
        many = await conn.execute(
            insert(Job), [{"kind": "t", "payload": {"n": n}} for n in range(5)]
        )
        changed = await conn.execute(update(Job).where(Job.kind == "t").values(kind="u"))
        rows = (await conn.execute(select(Job.kind, Job.payload).order_by(Job.id))).all()
        empty = (await conn.execute(text("SELECT 1 WHERE 0"))).all()
        described = list((await conn.execute(text("SELECT 1 AS one, 'x' AS two"))).keys())
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(Job))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(Job).values(id=1, kind="dup", payload={}))
    return {
        "org_key": org.inserted_primary_key[0] is not None,
        "lastrowid": org.lastrowid,
        "many": many.rowcount,
        "changed": changed.rowcount,
        "rows": [tuple(r) for r in rows],
        "empty": empty,
        "described": described,
        "count": count,
    }


async def test_the_same_results_as_sqlalchemys_own_adapter(sqlite_template, tmp_path):
    ours = make_engine(_copy(sqlite_template, tmp_path))
    plain_path = tmp_path / "plain.db"
    shutil.copy(sqlite_template, plain_path)
    plain = create_async_engine(f"sqlite+aiosqlite:///{plain_path}")
    try:
        assert await _exercise(ours) == await _exercise(plain)
    finally:
        await ours.dispose()
        await plain.dispose()


async def _crossings_for_ten_reads(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> int:
    try:
        async with engine.connect() as conn:  # connected, pragmas run
            await conn.scalar(text("SELECT 1"))
        with monkeypatch.context() as patch:
            crossings = Crossings(patch)
            async with engine.connect() as conn:
                for n in range(10):
                    assert (await conn.execute(select(Job.id).where(Job.id == n))).all() == []
            return crossings.count
    finally:
        await engine.dispose()


async def test_one_crossing_per_statement(sqlite_template, tmp_path, monkeypatch):
    ours = await _crossings_for_ten_reads(
        make_engine(_copy(sqlite_template, tmp_path)), monkeypatch
    )
    plain_path = tmp_path / "plain.db"
    shutil.copy(sqlite_template, plain_path)
    plain = create_async_engine(f"sqlite+aiosqlite:///{plain_path}")
    theirs = await _crossings_for_ten_reads(plain, monkeypatch)
    # Ten statements and the rollback as the connection goes back to the pool; SQLAlchemy's
    # own adapter crosses three or four times a statement (cursor, execute, fetch, close).
    assert ours <= 10 + 1, ours
    assert theirs >= 30, theirs
