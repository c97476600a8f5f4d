import asyncio
import os
import sys

from aiohttp import web
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.db import engine_key, make_engine
from app.migrate import alembic_config, current_revision, downgrade, drift, upgrade
from app.settings import ROOT


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


async def test_0002_keeps_numbers_given_and_redacts_links_kept_in_clear(tmp_path) -> None:
    """Upgrading a database that has cases, sent SMS and finished jobs from revision 0001."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(engine, "0001")
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO organizations (id, name, short_name, kind, tier) "
            "VALUES (1, '松陵', '吴松', 'mediation', 'town')",
            "INSERT INTO cases (org_id, year, seq, number, dispute_type, description, tier, risk, "
            "complexity, status, created_at) VALUES (1, 2026, 7, 'n7', 'neighbour', 'd', 'town', "
            "'blue', 'general', 'registered', '2026-01-01')",
            "INSERT INTO messages (channel, recipient, body, created_at) "
            "VALUES ('sms', '13900000000', '打开 http://h/p/AbC_12-x 参加', '2026-01-01')",
            "INSERT INTO jobs (kind, payload, status, run_after, attempts, created_at) VALUES "
            "('sms', '{\"body\": \"http://h/p/AbC_12-x\"}', 'done', '2026-01-01', 1, '2026-01-01'),"
            "('sms', '{\"body\": \"http://h/p/StillToSend\"}', 'pending', '2026-01-01', 0, "
            "'2026-01-01'),"
            "('sms', '{\"body\": \"x\"}', 'running', '2026-01-01', 1, '2026-01-01')",
        ):
            await conn.execute(text(sql))
    await upgrade(engine)
    async with engine.connect() as conn:
        sequences = (
            await conn.execute(text("SELECT org_id, year, last_seq FROM case_sequences"))
        ).all()
        body = (await conn.execute(text("SELECT body FROM messages"))).scalar_one()
        jobs = (
            await conn.execute(text("SELECT payload, status, lease_until FROM jobs ORDER BY id"))
        ).all()
    await engine.dispose()
    assert sequences == [(1, 2026, 7)]  # the next registration gets 0008
    assert body == "打开 http://h/p/•••• 参加"
    assert "AbC_12" not in str(jobs[0][0]) and "StillToSend" in str(jobs[1][0])  # not sent yet
    assert jobs[2][1] == "running" and jobs[2][2] is not None  # a lease, already expired


async def test_a_sqlite_database_with_cases_downgrades_to_0001_and_back(tmp_path) -> None:
    """SQLite rebuilds a table to alter it; with rows referencing `cases` that once failed on
    the foreign keys. Demo data (cases, parties, events, appointments) goes down and up intact."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "DATABASE_URL": url, "MEDIATION_MODE": "development"}
    for command in ("migrate", "seed-demo"):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", command, env=env, cwd=ROOT
        )
        assert await process.wait() == 0, command
    engine = make_engine(url)
    count = text("SELECT count(*) FROM cases")
    async with engine.connect() as conn:
        cases = (await conn.execute(count)).scalar_one()
    assert cases >= 1
    await downgrade(engine, "0001")
    assert await current_revision(engine) == "0001"
    await upgrade(engine)
    async with engine.connect() as conn:
        assert (await conn.execute(count)).scalar_one() == cases
        assert (await conn.execute(text("PRAGMA foreign_key_check"))).all() == []
    assert await drift(engine) == []
    await engine.dispose()


async def test_0013_downgrades_and_upgrades_again(tmp_path) -> None:
    """The document-template migration (issue 9, part 2) has a working downgrade."""
    from alembic import command
    from sqlalchemy import inspect

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'down.db'}")
    await upgrade(engine)

    def down(connection) -> list[str]:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0013-1")
        return inspect(connection).get_table_names()

    async with engine.begin() as connection:
        tables = await connection.run_sync(down)
    assert "case_documents" not in tables and "document_templates" not in tables
    await upgrade(engine)
    assert await drift(engine) == []
    await engine.dispose()
