"""Is the database answering? `/healthz` for load balancers, and which errors mean "it is not"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import asyncpg
from aiohttp import web
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from app.db import engine_key

log = logging.getLogger("app.health")
PROBE_SECONDS = 5.0  # load balancers give up after a few seconds; answer before they do
_DRIVERS = ("sqlalchemy.", "asyncpg.", "aiosqlite.")
_UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool is exhausted: every connection is busy or being made
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # the server is starting or shutting down
    asyncpg.TooManyConnectionsError,
)


def database_unavailable(error: BaseException) -> bool:
    """True when `error` means the database cannot be reached now, not a bug in a request."""
    if isinstance(error, _UNAVAILABLE):
        return True
    # The drivers let socket errors (refused, reset, timed out) through unwrapped while they
    # connect; an OSError raised anywhere else (a missing file, say) stays a server error.
    return isinstance(error, OSError) and _raised_in_driver(error)


def _raised_in_driver(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(_DRIVERS):
            return True
        traceback = traceback.tb_next
    return False


def reason(error: BaseException) -> str:
    """A short public reason: the error's kind, never its text (which names hosts and paths)."""
    if isinstance(error, TimeoutError):
        return f"the database did not answer within {PROBE_SECONDS:g} s"
    cause = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig else error
    return f"the database is unreachable ({type(cause).__name__})"


def _open_sqlite_file(path: str) -> None:
    # A fresh connection, read-write but never create: pooled connections keep the old file open
    # after it is moved or deleted, and a plain connect would create an empty database there.
    uri = f"{Path(path).resolve().as_uri()}?mode=rw"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=PROBE_SECONDS)) as connection:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()


async def probe(app: web.Application) -> str | None:
    """None when the database answers; otherwise why not."""
    engine = app[engine_key]
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            path = engine.url.database
            if engine.dialect.name == "sqlite" and path and path != ":memory:":
                await asyncio.to_thread(_open_sqlite_file, path)
    except (OSError, sqlite3.Error, *_UNAVAILABLE) as error:  # OSError: refused, timed out
        log.warning("health probe failed: %s: %s", type(error).__name__, error)
        return reason(error)
    return None


async def healthz(request: web.Request) -> web.StreamResponse:
    problem = await probe(request.app)
    if problem is not None:
        return web.json_response({"status": "unavailable", "reason": problem}, status=503)
    return web.json_response({"status": "ok"})
