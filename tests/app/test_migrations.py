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
