"""The connection pool: a burst opens no connection beyond the pool (each new PostgreSQL
connection pays a connect, the driver's type introspection and its statements prepared anew),
and a pooled connection the server dropped while it sat idle is replaced before use, so the
request it serves does not fail."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, make_url

from app import db as app_db
from app.db import SQLITE_POOL, engine_key
from app.factory import create_app
from app.settings import Settings

# An unknown token makes the request look it up: one pooled connection, then 401.
BEARER = {"Authorization": "Bearer not-a-token"}


async def test_a_burst_opens_no_connection_beyond_the_pool(
    settings: Settings, aiohttp_client: Any
) -> None:
    app = create_app(replace(settings, db_pool=4))
    client = await aiohttp_client(app)
    pool = app[engine_key].sync_engine.pool
    opened: list[object] = []
    event.listen(pool, "connect", lambda dbapi, _record: opened.append(dbapi))

    async def ask() -> int:
        response = await client.get("/api/v1/mediators", headers=BEARER)
        await response.read()
        return response.status

    for _burst in range(3):
        assert set(await asyncio.gather(*(ask() for _ in range(40)))) == {401}
    most = 4 if app[engine_key].dialect.name == "postgresql" else SQLITE_POOL
    assert 1 <= len(opened) <= most, len(opened)


def test_the_pool_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="MEDIATION_DB_POOL"):
        app_db.make_engine("postgresql+asyncpg://127.0.0.1/none", pool=0)


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    settings: Settings, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite connections are files in this process: nothing drops them")
    monkeypatch.setattr(app_db, "PING_AFTER_IDLE", 0.2)
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/api/v1/mediators", headers=BEARER)).status == 401

    url = make_url(settings.database_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            url.database,
        )
    finally:
        await admin.close()
    assert dropped >= 1
    await asyncio.sleep(0.3)

    # Without the ping the pooled connection's first statement would fail: 503.
    assert (await client.get("/api/v1/mediators", headers=BEARER)).status == 401
