"""Database engine, sessions and the declarative base shared by every feature."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web
from sqlalchemy import DateTime, MetaData, Table, event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

from app import sqlite_driver
from app.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware datetimes (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements: the ORM's bulk insert and update paths cost more
    CPU than the statements on hot paths (a booking, a join)."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


SQLITE_POOL = 5
PING_AFTER_IDLE = 1.0  # seconds: a pooled connection idle longer is tested before use
_IDLE_SINCE = "idle_since"  # ConnectionPoolEntry.info: time.monotonic() at its last checkin


def make_engine(url: str, pool: int = Settings.db_pool) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Five connections, no overflow: SQLite runs one writer at a time and its reads take
        # microseconds, so more connections add threads (each with its own page cache, kept
        # after a burst: ≈ 5 KB per room socket after a thousand joins), not throughput.
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30},
            module=sqlite_driver.DBAPI,
            pool_size=SQLITE_POOL,
            max_overflow=0,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _queue_writers(engine.sync_engine)
        return engine
    if pool < 1:
        raise ValueError("MEDIATION_DB_POOL must be at least 1")
    # A fixed pool, every connection kept: overflow connections were closed as soon as they
    # came back and opened again by the next request of a burst, each paying the connect, the
    # driver's type introspection and its statements prepared anew (docs/decisions.md).
    engine = create_async_engine(url, pool_size=pool, max_overflow=0)
    _ping_after_idle(engine.sync_engine)
    return engine


def _ping_after_idle(sync_engine: Engine) -> None:
    """`pool_pre_ping`, but only for a connection that sat idle in the pool for a while: one
    in steady use was proved alive a moment ago, and the ping is a round trip per checkout. A
    connection that died in use raises a disconnect, which invalidates the whole pool."""
    dialect = sync_engine.dialect

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is not None and time.monotonic() - since > PING_AFTER_IDLE:
            try:
                dialect.do_ping(dbapi)
            except Exception as error:
                raise DisconnectionError(str(error)) from error  # the pool connects anew

    event.listen(sync_engine.pool, "checkin", checkin)
    event.listen(sync_engine.pool, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL syncs at checkpoints, not at every commit, and cannot corrupt the file;
    # a power cut may undo the last commits (docs/decisions.md, "SQLite commits").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


WRITER = "sqlite_writer"  # Connection.info: "writing", then "ending" once COMMIT is under way
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")  # where the driver opens a transaction
WRITER_WAIT = 30.0  # seconds, as busy_timeout


def _queue_writers(sync_engine: Engine) -> None:
    """SQLite runs one writer at a time, and its own wait (busy_timeout) sleeps and polls: a
    writer that found the database locked sleeps up to 100 ms after it was freed, while newer
    ones keep winning. The engine's writers queue here instead, first come first served, from
    their first write until their COMMIT or ROLLBACK has run: the turn is handed on when the
    connection goes back to the pool (a session's does at once) or begins its next
    transaction. Other processes (`python -m app worker`) still meet SQLite's own wait; after
    WRITER_WAIT seconds a writer goes on to meet it too."""
    lock = asyncio.Lock()

    def take(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if WRITER not in conn.info and statement.lstrip()[:6].upper() in _WRITES:
            if not lock.locked():
                await_only(lock.acquire())  # free: taken at once
            else:
                try:
                    await_only(asyncio.wait_for(lock.acquire(), WRITER_WAIT))
                except TimeoutError:
                    return
            conn.info[WRITER] = "writing"

    def ending(conn: Connection) -> None:
        # Before the driver's COMMIT or ROLLBACK: the turn is handed on once it has run.
        if conn.info.get(WRITER) == "writing":
            conn.info[WRITER] = "ending"

    def hand_on(info: dict[Any, Any]) -> None:
        if info.pop(WRITER, None):
            lock.release()

    event.listen(sync_engine, "before_cursor_execute", take)
    event.listen(sync_engine, "commit", ending)
    event.listen(sync_engine, "rollback", ending)
    event.listen(sync_engine, "begin", lambda conn: hand_on(conn.info))
    # Back in the pool, or dropped (an error, a cancelled task): whatever its state.
    event.listen(sync_engine.pool, "checkin", lambda _dbapi, record: hand_on(record.info))
    event.listen(sync_engine.pool, "invalidate", lambda _dbapi, record, _e: hand_on(record.info))


engine_key = web.AppKey("engine", AsyncEngine)
sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
# Sessions whose statements each run on their own (no transaction around them): for a request's
# lone read, such as the principal behind an API token. On PostgreSQL this spares the BEGIN and
# the ROLLBACK, two round trips every API request paid; SQLite's driver opens no transaction
# for a read anyway, so there it is the ordinary sessionmaker.
reader_key = web.AppKey("reader", async_sessionmaker[AsyncSession])


def make_reader(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    if engine.dialect.name == "sqlite":
        return async_sessionmaker(engine, expire_on_commit=False)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(autocommit, expire_on_commit=False)


@asynccontextmanager
async def transaction(app: web.Application) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with app[sessionmaker_key]() as session, session.begin():
        yield session


def dialect_of(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


async def lock_row(db: AsyncSession, model: type[Base], ident: int) -> None:
    """Holds the row's write lock until the transaction ends, so a check made after this call
    cannot be invalidated by a concurrent writer (READ COMMITTED would let two pass).

    PostgreSQL locks the row. SQLite has one writer per database: a no-op write takes the
    database's write lock now, and every read after it sees the latest commit.
    """
    (key,) = inspect(model).primary_key
    if dialect_of(db) == "sqlite":
        await db.execute(
            update(model)
            .where(key == ident)
            .values({key.name: key})
            .execution_options(synchronize_session=False)
        )
    else:
        await db.execute(select(key).where(key == ident).with_for_update())


async def insert_if_missing(db: AsyncSession, model: type[Base], **values: Any) -> None:
    """INSERT … ON CONFLICT DO NOTHING: of two concurrent first inserts, one row results."""
    insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
    await db.execute(insert(model).values(**values).on_conflict_do_nothing())
