"""A database outage for real: `/healthz` goes 200 → 503 → 200 without restarting the app, and
pages answer 503 "try again" (not 500) meanwhile.

PostgreSQL is reached through a TCP proxy the test stops and restarts; SQLite's directory is moved
away and back."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from app.db import engine_key
from app.factory import create_app
from app.health import database_unavailable
from app.settings import Settings
from tests.conftest import _free_port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class TcpProxy:
    """127.0.0.1:<port> → the database server; `stop` cuts every connection, as an outage does."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = _free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.writers.add(writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self.writers.add(upstream_writer)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            writer.close()
            self.handlers.discard(task)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        for writer in self.writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self.writers.clear()
        await self.server.wait_closed()


class Outage:
    """Makes the test database unreachable and reachable again, without touching the app."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.url = make_url(database_url)
        self.proxy: TcpProxy | None = None
        self.home = tmp_path / "db"
        self.away = tmp_path / "db-away"

    async def app_url(self) -> str:
        if self.url.get_backend_name() == "sqlite":
            self.home.mkdir()
            assert self.url.database is not None
            shutil.copy(self.url.database, self.home / "test.db")
            return str(self.url.set(database=str(self.home / "test.db")))
        self.proxy = TcpProxy(self.url.host or "127.0.0.1", self.url.port or 5432)
        await self.proxy.start()
        return self.url.set(port=self.proxy.port).render_as_string(hide_password=False)

    async def begin(self) -> None:
        if self.proxy:
            await self.proxy.stop()
        else:
            self.home.rename(self.away)

    async def end(self) -> None:
        if self.proxy:
            await self.proxy.start()
        else:
            self.away.rename(self.home)

    async def close(self) -> None:
        if self.proxy and self.proxy.server and self.proxy.server.is_serving():
            await self.proxy.stop()


@pytest.fixture
async def outage(database_url: str, tmp_path: Path) -> AsyncIterator[Outage]:
    outage = Outage(database_url, tmp_path)
    yield outage
    await outage.close()


async def test_healthz_follows_the_database_and_pages_say_try_again(
    outage: Outage, settings: Settings, aiohttp_client: Any
) -> None:
    app = create_app(replace(settings, database_url=await outage.app_url()))
    client = await aiohttp_client(app)
    bearer = {"Authorization": "Bearer not-a-token"}  # makes the request look the token up
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}

    await outage.begin()
    response = await client.get("/healthz")
    assert response.status == 503, await response.text()
    body = await response.json()
    assert body["status"] == "unavailable" and "database" in body["reason"]
    if outage.proxy is None:
        # Pooled SQLite connections keep the moved file open; new ones find nothing.
        await app[engine_key].dispose()
    page = await client.get("/", cookies={"msid": "a-session"})
    assert page.status == 503 and "服务暂时不可用，请稍后再试。" in await page.text()
    api = await client.get("/api/v1/mediators", headers=bearer)
    assert api.status == 503
    error = await api.json()
    assert error["error"] == "unavailable"
    assert error["messages"]["en"].startswith("The service is temporarily unavailable")

    await outage.end()
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}
    assert (await client.get("/", cookies={"msid": "a-session"})).status == 200
    assert (await client.get("/api/v1/mediators", headers=bearer)).status == 401


def test_errors_outside_the_database_drivers_stay_server_errors() -> None:
    assert not database_unavailable(FileNotFoundError("templates/app/x.html"))
    assert not database_unavailable(ConnectionRefusedError())  # not raised inside a driver
    assert not database_unavailable(ValueError("a bug"))
