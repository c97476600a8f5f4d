"""Runs alembic from inside the application (CLI `migrate`, tests, `check`)."""

from __future__ import annotations

import importlib
from types import ModuleType

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import Base
from app.settings import ROOT


def alembic_config() -> Config:
    return Config(str(ROOT / "alembic.ini"))


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def import_models() -> tuple[ModuleType, ...]:
    """Registers every feature's tables on Base.metadata (the composition root's job)."""
    return tuple(
        importlib.import_module(f"{package}.models")
        for package in ("app", "booking", "rooms", "documents")
    )


async def drift(engine: AsyncEngine) -> list[object]:
    """Differences between the models and the migrated schema (empty when they agree)."""
    import_models()

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        return await connection.run_sync(compare)
