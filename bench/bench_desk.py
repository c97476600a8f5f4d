"""Desk benchmark: the coordinators' dashboard and the alarm sweep over 100,000 open cases on
PostgreSQL.

    .venv/bin/python bench/bench_desk.py --cases 100000 --runs 15

Creates a throw-away database on the server at MEDIATION_TEST_POSTGRES (default: the local
trust-auth server), migrates it, seeds the demo staff, adds 11 towns with 28 villages each under
the district, and bulk-loads CASES open cases with set-based INSERT … SELECT generate_series
(spread over the organisations, the open states, colours, types, and deadlines from 2 days ago to
30 days ahead: about 6 % overdue and 3 % due within a day). Then:

- dashboard: GET /desk and GET /api/v1/desk/cases through the served app (a real HTTP request,
  session cookie, template rendered) as the district administrator, who sees every case, for page
  sizes 20, 50 and 100; medians of RUNS requests each, and the SQL statements each request ran;
- sweep: `booking.clocks.sweep_deadlines` (one INSERT … SELECT) — the first run raises every due
  alarm, later runs find them raised (the steady state, every few minutes); median of RUNS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.auth import open_session
from app.db import engine_key, make_engine, transaction, utcnow
from app.demo import seed_demo
from app.factory import create_app
from app.migrate import upgrade
from app.settings import Settings, settings_key
from booking.clocks import sweep_deadlines

PG_ADMIN = os.environ.get(
    "MEDIATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TOWNS, VILLAGES_PER_TOWN = 11, 28

ORGS_SQL = """
INSERT INTO organizations (name, short_name, kind, tier, parent_id)
SELECT '镇' || t, '镇' || t, 'mediation', 'town', :district FROM generate_series(1, :towns) t;
"""
VILLAGES_SQL = """
INSERT INTO organizations (name, short_name, kind, tier, parent_id)
SELECT '村' || o.id || '-' || v, '村', 'mediation', 'village', o.id
FROM organizations o CROSS JOIN generate_series(1, :villages) v
WHERE o.tier = 'town' AND o.kind = 'mediation';
"""
# Set-based bulk load: one statement, no per-row round trips.
CASES_SQL = """
WITH orgs AS (
  SELECT array_agg(id ORDER BY id) AS ids, array_agg(tier ORDER BY id) AS tiers
  FROM organizations WHERE kind = 'mediation'
),
staff AS (SELECT array_agg(id ORDER BY id) AS ids FROM staff_users WHERE role = 'mediator')
INSERT INTO cases (org_id, number, dispute_type, description, tier, risk, complexity, status,
                   mediator_id, deadline_at, created_at, registered_at)
SELECT orgs.ids[1 + g % array_length(orgs.ids, 1)],
       'BENCH-' || g,
       (ARRAY['family','neighbour','lending','labour','property_mgmt','traffic','other'])
           [1 + g % 7],
       '基准测试案件',
       orgs.tiers[1 + g % array_length(orgs.ids, 1)],
       (ARRAY['blue','blue','blue','blue','yellow','yellow','red'])[1 + (g / 7) % 7],
       'general',
       (ARRAY['registered','dispatched','accepted','scheduled','agreement'])[1 + (g / 3) % 5],
       CASE WHEN g % 2 = 0 THEN staff.ids[1 + g % array_length(staff.ids, 1)] END,
       now() + ((g % 4608) * interval '10 minutes') - interval '2 days',
       now() - interval '11 days',
       now() - interval '11 days'
FROM generate_series(1, :cases) g, orgs, staff;
"""


FLOOR_SQL = """
SELECT status, count(*) FROM cases
WHERE status IN ('registered','dispatched','accepted','scheduled','agreement') GROUP BY status
"""


def _pg_url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(app: web.Application, cases: int) -> None:
    await seed_demo(app)
    async with transaction(app) as db:
        district = await db.scalar(text("SELECT id FROM organizations WHERE tier = 'district'"))
        await db.execute(text(ORGS_SQL), {"district": district, "towns": TOWNS})
        await db.execute(text(VILLAGES_SQL), {"villages": VILLAGES_PER_TOWN})
        started = time.perf_counter()
        await db.execute(text(CASES_SQL), {"cases": cases})
    print(f"loaded {cases} cases in {time.perf_counter() - started:.1f} s")
    async with app[engine_key].connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))  # what autovacuum keeps


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def bench_floor(app: web.Application, runs: int) -> float:
    """The floor: one bare scan counting the open cases (what any dashboard query must read)."""

    async def scan() -> None:
        async with app[engine_key].connect() as conn:
            await conn.execute(text(FLOOR_SQL))

    await scan()
    floor = statistics.median(await timed(runs, scan))
    print(f"floor: bare scan of the open cases, median {floor:.1f} ms")
    return floor


async def bench_dashboard(app: web.Application, base: str, cookie: str, runs: int) -> None:
    statements: list[str] = []
    engine = app[engine_key].sync_engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with aiohttp.ClientSession(cookies={"msid": cookie}) as http:
        for path in ("/desk?per_page={n}", "/api/v1/desk/cases?per_page={n}"):
            for size in (20, 50, 100):
                url = base + path.format(n=size)

                async def get(url: str = url) -> None:
                    async with http.get(url) as response:
                        assert response.status == 200, await response.text()
                        await response.read()

                await get()  # warm
                statements.clear()
                times = await timed(runs, get)
                per_request = len(statements) / runs
                print(
                    f"{path.format(n=size):40s} median {statistics.median(times):6.1f} ms  "
                    f"p90 {sorted(times)[int(0.9 * (runs - 1))]:6.1f} ms  "
                    f"statements/request {per_request:.0f}"
                )


async def bench_sweep(app: web.Application, runs: int) -> None:
    settings = app[settings_key]
    now = utcnow()

    async def once() -> int:
        async with transaction(app) as db:
            return await sweep_deadlines(db, settings, now)

    started = time.perf_counter()
    raised = await once()
    first = (time.perf_counter() - started) * 1000
    print(f"sweep, first run (raises every due alarm): {first:.0f} ms, {raised} alarms")
    times = await timed(runs, once)
    print(f"sweep, steady state: median {statistics.median(times):.0f} ms over {runs} runs")


async def main(cases: int, runs: int) -> None:
    name = f"mediation_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = _pg_url(name)
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        port = _free_port()
        with tempfile.TemporaryDirectory() as var:
            settings = Settings(
                database_url=url,
                var_dir=Path(var),
                run_worker=False,
                mode="development",
                log_level="ERROR",
                port=port,
                base_url=f"http://127.0.0.1:{port}",
            )
            app = create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                await load(app, cases)
                async with transaction(app) as db:
                    admin = await db.scalar(
                        text("SELECT id FROM staff_users WHERE username = 'admin'")
                    )
                    cookie = await open_session(db, kind="staff", staff_id=admin, hours=1)
                await bench_floor(app, runs)
                await bench_dashboard(app, settings.base_url, cookie, runs)
                await bench_sweep(app, runs)
            finally:
                await runner.cleanup()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.runs))
