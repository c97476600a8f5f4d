"""After-care at scale: the alarm sweep and the per-mediator rating averages over many closed cases.

    .venv/bin/python bench/bench_aftercare.py --cases 100000 --runs 7 [--database-url URL]

Builds a migrated database (PostgreSQL when --database-url is given, else SQLite in a temporary
directory) with CASES closed cases, each with a follow-up and one performance obligation, and one
rating per case spread over 50 mediators, inserted in bulk. Half the follow-ups and half the
obligations are overdue. Times (median of RUNS): the sweep's first run (raising every alarm),
the steady-state sweep (nothing new: what each scheduled run costs), and mediator_ratings for all
50 mediators. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from app.db import make_engine
from app.migrate import import_models, upgrade
from app.models import Case, Organization, Party, StaffUser
from booking.aftercare import mediator_ratings, raise_due_alarms
from booking.models import FollowUp, PerformanceItem, Rating

CHUNK = 5000
MEDIATORS = 50


def rows_for(n: int, now: datetime, start: int) -> dict[str, list[dict[str, Any]]]:
    ids = range(start, start + n)
    due = [now + timedelta(days=-1 if i % 2 else 1) for i in ids]
    return {
        "cases": [
            {
                "id": i,
                "org_id": 1,
                "dispute_type": "neighbour",
                "description": "基准",
                "tier": "town",
                "risk": "blue",
                "complexity": "general",
                "status": "closed",
                "mediator_id": 1 + i % MEDIATORS,
                "created_at": now,
                "outcome": "withdrawn",
                "closed_at": now,
            }
            for i in ids
        ],
        "parties": [
            {
                "id": i,
                "case_id": i,
                "role": "applicant",
                "name": "王秀兰",
                "phone": "13900000000",
                "id_masked": "",
                "id_digest": "",
                "address": "",
            }
            for i in ids
        ],
        "followups": [
            {"case_id": i, "due_at": d, "note": ""} for i, d in zip(ids, due, strict=True)
        ],
        "items": [
            {
                "case_id": i,
                "what": "付款",
                "debtor": "李建国",
                "created_by": "bench",
                "due_on": (d - timedelta(days=1)).date(),
                "alarm_at": d,
                "status": "pending",
                "created_at": now,
            }
            for i, d in zip(ids, due, strict=True)
        ],
        "ratings": [
            {
                "case_id": i,
                "party_id": i,
                "mediator_id": 1 + i % MEDIATORS,
                "attitude": 1 + i % 5,
                "procedure": 5,
                "result": 3,
                "comment": "",
                "created_at": now,
            }
            for i in ids
        ],
    }


async def build(url: str, cases: int) -> Any:
    engine = make_engine(url)
    await upgrade(engine)
    import_models()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Organization).values(
                id=1, name="吴江", short_name="吴", tier="town", kind="mediation"
            )
        )
        await conn.execute(
            insert(StaffUser),
            [
                {
                    "id": m,
                    "org_id": 1,
                    "username": f"m{m}",
                    "display_name": "调解员",
                    "role": "mediator",
                    "password_hash": "x",
                    "active": True,
                    "created_at": now,
                }
                for m in range(1, MEDIATORS + 1)
            ],
        )
    for start in range(1, cases + 1, CHUNK):
        rows = rows_for(min(CHUNK, cases + 1 - start), now, start)
        async with engine.begin() as conn:
            for table, model in (
                ("cases", Case),
                ("parties", Party),
                ("followups", FollowUp),
                ("items", PerformanceItem),
                ("ratings", Rating),
            ):
                await conn.execute(insert(model), rows[table])
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))  # what autovacuum does after a bulk load
    return engine


async def timed(engine: Any, work: Any) -> float:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    maker = async_sessionmaker(engine, expire_on_commit=False)
    started = time.perf_counter()
    async with maker() as db, db.begin():
        await work(db)
    return (time.perf_counter() - started) * 1000


async def main(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    started = time.perf_counter()
    engine = await build(url, args.cases)
    built = time.perf_counter() - started
    now = datetime.now(UTC)
    first = await timed(engine, lambda db: raise_due_alarms(db, now))
    steady = [await timed(engine, lambda db: raise_due_alarms(db, now)) for _ in range(args.runs)]
    ids = list(range(1, MEDIATORS + 1))
    ratings = [await timed(engine, lambda db: mediator_ratings(db, ids)) for _ in range(args.runs)]
    async with engine.connect() as conn:
        alarms = (await conn.execute(text("SELECT count(*) FROM alarms"))).scalar_one()
    await engine.dispose()
    return {
        "database": url.split("+")[0],
        "cases": args.cases,
        "build_s": round(built, 1),
        "alarms_raised": alarms,
        "first_sweep_ms": round(first),
        "steady_sweep_p50_ms": round(statistics.median(steady), 1),
        "mediator_ratings_p50_ms": round(statistics.median(ratings), 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=None)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
