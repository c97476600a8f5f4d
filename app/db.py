"""Database engine, sessions and the declarative base shared by every feature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import DateTime, MetaData, event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

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


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL syncs at checkpoints, not at every commit, and cannot corrupt the file;
    # a power cut may undo the last commits (docs/decisions.md, "SQLite commits").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


engine_key = web.AppKey("engine", AsyncEngine)
sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])


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
