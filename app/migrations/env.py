"""Alembic environment: async engines, SQLite batch mode, every feature's tables."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.db import Base, make_engine
from app.migrate import import_models
from app.settings import from_env

import_models()
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    if connection.dialect.name == "sqlite":
        _sqlite_migrations(connection)
        return
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_migrations(connection: Connection) -> None:
    """SQLite's own recipe for schema changes: batch mode rebuilds a table (copy, drop,
    rename), and dropping a table that other rows reference fails with foreign keys on, though
    the rename restores every reference. So the keys are off (outside any transaction, where
    the pragma takes effect), the migrations run in one transaction (a savepoint: the driver
    opens none for DDL), every key is checked before the commit, and the keys are back on
    before the connection returns to the pool (or it is discarded)."""
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        with context.begin_transaction():
            connection.exec_driver_sql("SAVEPOINT migrations")
            try:
                context.run_migrations()
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration breaks foreign keys: {broken[:5]}")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK TO migrations")
                raise
            finally:
                connection.exec_driver_sql("RELEASE migrations")
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys = ON")
        if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 1:
            connection.invalidate()  # still inside a caller's transaction: never reuse it


async def _run_async() -> None:
    url = context.config.attributes.get("database_url") or from_env().database_url
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    asyncio.run(_run_async())
