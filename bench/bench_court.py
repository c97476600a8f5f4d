#!/usr/bin/env python3
"""The court's judicial-confirmation inbox with 10,000 filings, on SQLite and PostgreSQL, beside
a bare-driver query of the same rows measured in the same run.

    .venv/bin/python bench/bench_court.py --filings 10000 --db sqlite,postgresql --runs 15

For each database: a fresh database migrated by alembic, the demo staff, and FILINGS filed cases
of the demo town (two parties each, an effective agreement, a filing with the demo court: 30 %
waiting for review, 10 % waiting for a supplement, 40 % accepted with ruling clocks spread over
the coming 20 days — some overdue —, 20 % decided), inserted in bulk. The app is served in this
process (no job worker); the clerk's and the judge's `GET /court/inbox` (the page rendered) and
`GET /api/v1/court/inbox` (bearer token) are timed, RUNS requests each after a warm-up, with the
SQL statements each request ran. The floor replays every query `court.inbox` ran (the page of
filings with their cases, their parties, the service receipts of their rulings) with the same
parameters through the bare driver (aiosqlite / asyncpg) — the same rows, without ORM, rendering,
authentication or HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import event, insert, select

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from bench_desk import timed  # noqa: E402
from bench_slots import drop_database, free_port, new_database  # noqa: E402

from app.auth import Principal, create_api_token, open_session  # noqa: E402
from app.db import engine_key, make_engine, sessionmaker_key, transaction  # noqa: E402
from app.demo import seed_demo  # noqa: E402
from app.factory import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Case, Organization, Party, StaffUser  # noqa: E402
from app.settings import Settings  # noqa: E402
from documents import court  # noqa: E402
from documents.models import Agreement, CourtFiling  # noqa: E402

FIRST_ID = 1000  # above the demo's rows


def rows(filings: int, town: int, court_id: int, mediator: int) -> dict[str, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    made: dict[str, list[dict[str, Any]]] = {
        "cases": [],
        "parties": [],
        "agreements": [],
        "filings": [],
    }
    for n in range(filings):
        i = FIRST_ID + n
        made["cases"].append(
            {
                "id": i,
                "org_id": town,
                "number": f"BENCH-{i}",
                "dispute_type": ("neighbour", "lending", "labour", "property_mgmt")[n % 4],
                "description": "基准测试案件",
                "tier": "town",
                "status": "filed",
                "mediator_id": mediator,
            }
        )
        for p, role in enumerate(("applicant", "respondent")):
            made["parties"].append(
                {
                    "case_id": i,
                    "role": role,
                    "name": ("王秀兰", "李建国")[p],
                    "phone": f"139{i:04d}{p:04d}"[:11],
                    "id_masked": "320584********0023",
                    "id_digest": f"{i:060d}{p:04d}",
                }
            )
        made["agreements"].append(
            {
                "id": i,
                "case_id": i,
                "version": 1,
                "content": {"terms": ["基准"]},
                "version_hash": f"{i:064d}",
                "status": "effective",
                "created_by": f"staff:{mediator}",
                "effective_at": now - timedelta(days=3),
            }
        )
        kind = n % 10
        status = (
            "filed"
            if kind < 3
            else "supplement"
            if kind == 3
            else "accepted"
            if kind < 8
            else "confirmed"
        )
        accepted = status in ("accepted", "confirmed")
        made["filings"].append(
            {
                "case_id": i,
                "agreement_id": i,
                "court_org_id": court_id,
                "status": status,
                "filed_by": f"staff:{mediator}",
                "filed_at": now - timedelta(days=5, minutes=n),
                "court_case_number": f"(2026)苏0509民特{i}号" if accepted else None,
                "accepted_at": now - timedelta(days=4) if accepted else None,
                "ruling_due_at": now + timedelta(hours=(n % 480) - 48) if accepted else None,
                "decided_at": now - timedelta(days=1) if status == "confirmed" else None,
            }
        )
    return made


async def load(app: web.Application, filings: int) -> dict[str, int]:
    await seed_demo(app)
    async with transaction(app) as db:
        town = await db.scalar(select(Organization.id).where(Organization.tier == "town"))
        court_id = await db.scalar(select(Organization.id).where(Organization.kind == "court"))
        people = dict((await db.execute(select(StaffUser.username, StaffUser.id))).all())
        assert town and court_id
        made = rows(filings, town, court_id, people["mediator"])
        for model, key in ((Case, "cases"), (Party, "parties"), (Agreement, "agreements")):
            await db.execute(insert(model), made[key])
        await db.execute(insert(CourtFiling), made["filings"])
    return {"court": court_id, "clerk": people["clerk"], "judge": people["judge"]}


async def floor(app: web.Application, url: str, principal: Principal, runs: int) -> float:
    """Every query the inbox runs, replayed through the bare driver with the same parameters."""
    engine = app[engine_key]
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    async with app[sessionmaker_key]() as db:
        await court.inbox(db, principal)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)
    queries = list(captured)
    if url.startswith("sqlite"):
        import aiosqlite

        conn = await aiosqlite.connect(url.split("///", 1)[1])

        async def run() -> None:
            for statement, parameters in queries:
                async with conn.execute(statement, parameters) as cursor:
                    await cursor.fetchall()

        try:
            await run()
            return statistics.median(await timed(runs, run))
        finally:
            await conn.close()
    import asyncpg

    pg = await asyncpg.connect(url.replace("+asyncpg", ""))

    async def run_pg() -> None:
        for statement, parameters in queries:
            await pg.fetch(statement, *parameters)

    try:
        await run_pg()
        return statistics.median(await timed(runs, run_pg))
    finally:
        await pg.close()


async def measure(kind: str, filings: int, runs: int, tmp: Path) -> dict[str, Any]:
    url = await new_database(kind, tmp)
    try:
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        port = free_port()
        settings = Settings(
            database_url=url,
            var_dir=tmp / kind,
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
            started = time.perf_counter()
            ids = await load(app, filings)
            loaded = time.perf_counter() - started
            result: dict[str, Any] = {"db": kind, "filings": filings, "load_s": round(loaded, 1)}
            statements: list[str] = []
            event.listen(
                app[engine_key].sync_engine,
                "before_cursor_execute",
                lambda *a: statements.append(a[2]),
            )
            for role in ("clerk", "judge"):
                async with transaction(app) as db:
                    cookie = await open_session(db, kind="staff", staff_id=ids[role], hours=1)
                    token = await create_api_token(db, ids[role], "bench")
                principal = Principal(
                    kind="staff",
                    staff_id=ids[role],
                    role="court_clerk" if role == "clerk" else "judge",
                    org_id=ids["court"],
                )
                result[f"{role}_floor_ms"] = round(await floor(app, url, principal, runs), 2)
                for name, path, headers, cookies in (
                    ("html", "/court/inbox", {}, {"msid": cookie}),
                    ("api", "/api/v1/court/inbox", {"Authorization": f"Bearer {token}"}, {}),
                ):
                    async with aiohttp.ClientSession(cookies=cookies, headers=headers) as http:

                        async def get(http: aiohttp.ClientSession = http, path: str = path) -> None:
                            async with http.get(settings.base_url + path) as response:
                                assert response.status == 200, await response.text()
                                await response.read()

                        await get()
                        statements.clear()
                        times = await timed(runs, get)
                    median = statistics.median(times)
                    result[f"{role}_{name}_ms"] = round(median, 1)
                    result[f"{role}_{name}_statements"] = len(statements) / runs
                    result[f"{role}_{name}_ratio"] = round(median / result[f"{role}_floor_ms"], 2)
            return result
        finally:
            await runner.cleanup()
    finally:
        await drop_database(url)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            result = await measure(kind, args.filings, args.runs, Path(tmp))
            result["machine"] = f"{platform.machine()} {os.cpu_count()} cores"
            print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=10_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
