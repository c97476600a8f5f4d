"""Test fixtures: the real app on SQLite and on PostgreSQL, schemas built by alembic.

Every test that takes `app` or `client` runs twice, once per database. PostgreSQL is the server
at MEDIATION_TEST_POSTGRES (default: the local trust-auth server); each test session gets its
own database, migrated once and truncated between tests. SQLite is migrated once into a template
file that each test copies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from app.db import Base, make_engine
from app.factory import create_app
from app.migrate import import_models, upgrade
from app.settings import Settings
from tests.people import seed_ids

PG_ADMIN = os.environ.get(
    "MEDIATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASES = ("sqlite", "postgresql")


def _pg_url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """asyncio.run in a thread of its own: session fixtures may be set up inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"mediation_test_{uuid.uuid4().hex[:10]}"
    try:
        _run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    url = _pg_url(name)
    _run(_migrate(url))
    yield url
    _run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    import_models()
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    await _truncate(url)
    yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        run_worker=False,
        base_url="http://127.0.0.1:8080",
        session_hours=2,
        mode="development",
    )


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(
    app: web.Application, aiohttp_client: object
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    yield await aiohttp_client(app)  # type: ignore[operator]


@pytest.fixture
async def new_client(
    client: TestClient[web.Request, web.Application],
) -> AsyncIterator[Callable[[], Awaitable[TestClient[web.Request, web.Application]]]]:
    """Another browser (own cookie jar) against the same running app as `client`."""
    opened: list[TestClient[web.Request, web.Application]] = []

    async def make() -> TestClient[web.Request, web.Application]:
        other: TestClient[web.Request, web.Application] = TestClient(client.server)
        await other.start_server()
        opened.append(other)
        return other

    yield make
    for other in opened:
        # TestClient.close() without closing the shared server: an unread response would
        # otherwise keep its connection until the garbage collector warns about it.
        for response in other._responses:
            response.close()
        await other.session.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def live_app(settings: Settings) -> AsyncIterator[web.Application]:
    """The app on a real port (for browsers and raw WebSockets); its URL is settings.base_url."""
    port = _free_port()
    app = create_app(replace(settings, run_worker=True, base_url=f"http://127.0.0.1:{port}"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield app
    await runner.cleanup()


@pytest.fixture
async def demo(app: web.Application, client: object) -> dict[str, int]:
    """The demo organisations and staff (ids by key), in the started app's database."""
    return await seed_ids(app)
