from aiohttp import web
from alembic.script import ScriptDirectory

from app.db import engine_key, make_engine
from app.migrate import alembic_config, current_revision, drift, upgrade


async def test_schema_is_at_head_with_no_drift(app: web.Application, client: object) -> None:
    engine = app[engine_key]
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await current_revision(engine) == head
    assert await drift(engine) == []


async def test_upgrade_head_on_an_empty_sqlite_database(tmp_path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    await upgrade(engine)
    assert await drift(engine) == []
    await engine.dispose()
