#!/usr/bin/env python3
"""Earliest free slots across many people, through the API, beside a bare aiohttp + driver floor
measured in the same run.

    .venv/bin/python bench/bench_slots.py --people 50,200,1000 --db sqlite,postgresql --runs 40

For each database and each number of people: a fresh database migrated by alembic, one town with
a coordinator and PEOPLE mediators, each free Monday–Friday 09:00–12:00 and 14:00–17:30 (weekly
rules) and with ten one-hour appointments already booked in the next 30 days (their slot claims).
The real app serves in a child process (no job worker); the client sends RUNS sequential
`GET /api/v1/slots?from=<tomorrow>&to=<+29 days>&minutes=60&limit=20` with a bearer token: the
earliest 20 free hours among everyone, 30 days. The floor is a bare aiohttp app in a child
process answering each request with one `SELECT` through the same driver (aiosqlite / asyncpg)
as JSON. Prints one JSON line per case; with --write appends a table to bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from app.auth import create_api_token  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Case, Organization, StaffUser  # noqa: E402
from app.settings import Settings  # noqa: E402
from booking.models import (  # noqa: E402
    Appointment,
    AppointmentMember,
    AvailabilityRule,
    SlotClaim,
)
from booking.slots import local_moment, local_today  # noqa: E402

PG_ADMIN = os.environ.get(
    "MEDIATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RULES = ((540, 720), (840, 1050))  # 09:00–12:00, 14:00–17:30
BOOKED_PER_PERSON = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def new_database(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    import asyncpg

    name = f"mediation_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await conn.close()


async def seed(url: str, people: int, *, cases: int = 1) -> dict[str, Any]:
    """A migrated database with one town, a coordinator (API token), `people` mediators with
    weekly rules and booked hours, and `cases` registered cases. Returns ids and the token."""
    engine = make_engine(url)
    await upgrade(engine)
    rng = random.Random(7)
    today = local_today()
    async with engine.begin() as conn:
        org = (
            await conn.execute(
                insert(Organization).returning(Organization.id),
                [{"name": "松陵镇", "short_name": "松", "kind": "mediation", "tier": "town"}],
            )
        ).scalar_one()
        staff = [
            {
                "org_id": org,
                "username": f"u{i}",
                "display_name": f"调解员{i}",
                "role": "mediator",
                "password_hash": "x",
                "active": True,
                "created_at": datetime.now(UTC),
            }
            for i in range(people)
        ]
        staff.append({**staff[0], "username": "coordinator", "role": "coordinator"})
        ids = list((await conn.execute(insert(StaffUser).returning(StaffUser.id), staff)).scalars())
        mediators, coordinator = ids[:-1], ids[-1]
        await conn.execute(
            insert(AvailabilityRule),
            [
                {"staff_id": p, "weekday": w, "start_minute": a, "end_minute": b}
                for p in mediators
                for w in range(5)
                for a, b in RULES
            ],
        )
        now = datetime.now(UTC)
        case_rows = [
            {
                "org_id": org,
                "year": today.year,
                "seq": i + 1,
                "number": f"bench-{i + 1}",
                "dispute_type": "neighbour",
                "description": "bench",
                "tier": "town",
                "risk": "blue",
                "complexity": "general",
                "status": "registered",
                "created_at": now,
                "registered_at": now,
            }
            for i in range(cases)
        ]
        case_ids = list((await conn.execute(insert(Case).returning(Case.id), case_rows)).scalars())
        await _book_some(conn, mediators, case_ids[0], today, rng)
    engine_token = make_engine(url)
    from sqlalchemy.ext.asyncio import async_sessionmaker

    async with async_sessionmaker(engine_token)() as db, db.begin():
        token = await create_api_token(db, coordinator, "bench")
    await engine_token.dispose()
    await engine.dispose()
    return {"token": token, "mediators": mediators, "cases": case_ids, "org": org}


async def _book_some(
    conn: Any, mediators: list[int], case_id: int, today: date, rng: random.Random
) -> None:
    booked = []
    for person in mediators:
        for start in rng.sample(range(1, 30 * 6), BOOKED_PER_PERSON):
            day = today + timedelta(days=1 + start // 6)
            hour = (9, 10, 11, 14, 15, 16)[start % 6]
            booked.append((person, local_moment(day, datetime.min.time().replace(hour=hour))))
    rows = [
        {
            "case_id": case_id,
            "staff_id": p,
            "starts_at": s,
            "ends_at": s + timedelta(hours=1),
            "status": "booked",
            "created_by": "bench",
            "created_at": datetime.now(UTC),
            "sequence": 0,
        }
        for p, s in booked
    ]
    appointment_ids = list(
        (await conn.execute(insert(Appointment).returning(Appointment.id), rows)).scalars()
    )
    await conn.execute(
        insert(AppointmentMember),
        [
            {"appointment_id": a, "staff_id": p, "role": "mediator"}
            for a, (p, _) in zip(appointment_ids, booked, strict=True)
        ],
    )
    await conn.execute(
        insert(SlotClaim),
        [
            {"staff_id": p, "cell_start": s + timedelta(minutes=30 * i), "appointment_id": a}
            for a, (p, s) in zip(appointment_ids, booked, strict=True)
            for i in range(2)
        ],
    )


# --- the two servers -------------------------------------------------------------------------


def serve_app(url: str, port: int) -> None:
    from aiohttp import web

    from app.factory import create_app

    settings = Settings(
        database_url=url,
        run_worker=False,
        mode="development",
        var_dir=Path(tempfile.mkdtemp()),
        log_level="WARNING",
        port=port,
        db_pool=int(os.environ.get("MEDIATION_DB_POOL", Settings.db_pool)),
    )
    web.run_app(create_app(settings), host="127.0.0.1", port=port, print=None, access_log=None)


def serve_floor(url: str, port: int) -> None:
    """One SELECT through the bare driver per request, answered as JSON (no ORM, no app)."""
    from aiohttp import web

    async def startup(app: web.Application) -> None:
        if url.startswith("sqlite"):
            import aiosqlite

            app["db"] = await aiosqlite.connect(url.split("///", 1)[1])
        else:
            import asyncpg

            app["db"] = await asyncpg.create_pool(
                url.replace("+asyncpg", ""), min_size=2, max_size=10
            )

    async def handler(request: web.Request) -> web.Response:
        db = request.app["db"]
        if url.startswith("sqlite"):
            async with db.execute("SELECT id, display_name FROM staff_users WHERE id = 1") as cur:
                row = await cur.fetchone()
        else:
            row = await db.fetchrow("SELECT id, display_name FROM staff_users WHERE id = 1")
        return web.json_response({"id": row[0], "name": row[1]})

    async def cleanup(app: web.Application) -> None:
        await app["db"].close()  # aiosqlite's thread would keep the process alive

    app = web.Application()
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_get("/floor", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start(kind: str, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{kind}", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_up(port: int, path: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 240  # a loaded machine imports the app slowly
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def timed_gets(port: int, path: str, headers: dict[str, str], runs: int) -> list[float]:
    times = []
    async with aiohttp.ClientSession() as http:
        for i in range(runs + 3):
            began = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
                body = await r.read()
                assert r.status == 200, body[:300]
            if i >= 3:  # warm-up
                times.append((time.perf_counter() - began) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
    }


async def measure(kind: str, people: int, runs: int, tmp: Path) -> dict[str, Any]:
    url = await new_database(kind, tmp)
    try:
        data = await seed(url, people)
        first = local_today() + timedelta(days=1)
        path = f"/api/v1/slots?from={first}&to={first + timedelta(days=29)}&minutes=60&limit=20"
        headers = {"Authorization": f"Bearer {data['token']}"}
        floor_proc, floor_port = start("floor", url)
        try:
            await wait_up(floor_port, "/floor", {})
            floor = summary(await timed_gets(floor_port, "/floor", {}, runs))
        finally:
            stop(floor_proc)
        app_proc, app_port = start("app", url)
        try:
            await wait_up(app_port, path, headers)
            product = summary(await timed_gets(app_port, path, headers, runs))
        finally:
            stop(app_proc)
    finally:
        await drop_database(url)
    return {
        "bench": "slots",
        "db": kind,
        "people": people,
        "days": 30,
        "product": product,
        "floor": floor,
        "ratio_p50": round(product["p50_ms"] / floor["p50_ms"], 1),
    }


def write(results: list[dict[str, Any]]) -> None:
    lines = [
        "",
        f"### Slot search, {date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores (`bench_slots.py`)",
        "",
        "| db | people | product p50 | product p95 | floor p50 | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['db']} | {r['people']} | {r['product']['p50_ms']} ms | "
            f"{r['product']['p95_ms']} ms | {r['floor']['p50_ms']} ms | ×{r['ratio_p50']} |"
        )
    with open(ROOT / "bench" / "README.md", "a") as out:
        out.write("\n".join(lines) + "\n")


async def main(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            for people in (int(p) for p in args.people.split(",")):
                result = await measure(kind, people, args.runs, Path(tmp))
                print(json.dumps(result), flush=True)
                results.append(result)
    if args.write:
        write(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", default="50,200,1000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--serve-app")
    parser.add_argument("--serve-floor")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.serve_app:
        serve_app(args.serve_app, args.port)
    elif args.serve_floor:
        serve_floor(args.serve_floor, args.port)
    else:
        asyncio.run(main(args))
