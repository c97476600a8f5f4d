#!/usr/bin/env python3
"""Booking under concurrency, through the API, beside a bare aiohttp + driver insert floor
measured in the same run.

    .venv/bin/python bench/bench_booking.py --people 50,200,1000 --db sqlite,postgresql --clients 50

The database of bench_slots.py (PEOPLE mediators with weekly rules and booked hours) plus one
registered case per client. CLIENTS clients at once, each sending ROUNDS bookings one after the
other (`POST /api/v1/appointments` with an Idempotency-Key; a different mediator per client and a
different hour per round, so no two requests compete for a slot). The floor: a bare aiohttp app
in a child process whose handler runs one INSERT (and its commit) through the same driver, under
the same CLIENTS × ROUNDS load. Each server first takes one round that is not counted (CLIENTS
requests at once: pools open their connections, statements are compiled). Latency p50/p95 of
each, and the ratio of the p95s.

With `--cpu N`: one client books N times one after the other, and the app process's CPU time
per booking is reported (read from /proc), the figure that sets the p95 under load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_slots import (  # noqa: E402
    drop_database,
    new_database,
    seed,
    serve_app,
    stop,
    summary,
    wait_up,
)

from booking.search import search  # noqa: E402
from booking.slots import local_moment, local_today  # noqa: E402

FLOOR_TABLE = "CREATE TABLE IF NOT EXISTS floor_rows (id SERIAL PRIMARY KEY, n INTEGER, t TEXT)"


def serve_floor(url: str, port: int) -> None:
    """One INSERT + commit through the bare driver per request (no ORM, no app)."""
    from aiohttp import web

    sqlite = url.startswith("sqlite")
    db_key = web.AppKey("db", object)

    async def startup(app: web.Application) -> None:
        if sqlite:
            import aiosqlite

            conn = await aiosqlite.connect(url.split("///", 1)[1])
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute(FLOOR_TABLE.replace("SERIAL", "INTEGER"))
            app[db_key] = conn
        else:
            import asyncpg

            pool = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=10, max_size=30)
            await pool.execute(FLOOR_TABLE)
            app[db_key] = pool

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        db: Any = request.app[db_key]
        if sqlite:
            cursor = await db.execute(
                "INSERT INTO floor_rows (n, t) VALUES (?, ?)", (body["n"], body["t"])
            )
            await db.commit()
            row_id = cursor.lastrowid
        else:
            row_id = await db.fetchval(
                "INSERT INTO floor_rows (n, t) VALUES ($1, $2) RETURNING id", body["n"], body["t"]
            )
        return web.json_response({"id": row_id}, status=201)

    async def cleanup(app: web.Application) -> None:
        db: Any = app[db_key]
        await db.close()  # aiosqlite's thread would keep the process alive

    app = web.Application()
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_post("/floor", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start(kind: str, url: str) -> tuple[Any, int]:
    import subprocess

    from bench_slots import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{kind}", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    return process, port


async def free_hours(url: str, people: list[int], rounds: int) -> list[list[datetime]]:
    """For each person, `rounds` free hours (from the product's own search)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from app.db import make_engine

    engine = make_engine(url)
    first = local_today() + timedelta(days=1)
    start = local_moment(first, datetime.min.time())
    hours = []
    async with async_sessionmaker(engine)() as db:
        for person in people:
            found = await search(
                db, [person], start=start, end=start + timedelta(days=30), minutes=60, limit=None
            )
            # every other start, so consecutive hours never overlap
            taken: list[datetime] = []
            for slot in found:
                if all(abs(slot.starts_at - t) >= timedelta(hours=1) for t in taken):
                    taken.append(slot.starts_at)
                if len(taken) == rounds:
                    break
            hours.append(taken)
    await engine.dispose()
    return hours


async def load(
    port: int,
    path: str,
    bodies: list[list[dict[str, Any]]],
    headers: dict[str, str],
    prefix: str = "bench",
) -> tuple[list[float], dict[int, int]]:
    times: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client(i: int, own: list[dict[str, Any]]) -> None:
            for j, body in enumerate(own):
                began = time.perf_counter()
                extra = {"Idempotency-Key": f"{prefix}-{i}-{j}"}
                async with http.post(
                    f"http://127.0.0.1:{port}{path}", json=body, headers={**headers, **extra}
                ) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                times.append((time.perf_counter() - began) * 1000)

        await asyncio.gather(*(client(i, own) for i, own in enumerate(bodies)))
    return times, statuses


async def measure(kind: str, people: int, clients: int, rounds: int, tmp: Path) -> dict[str, Any]:
    url = await new_database(kind, tmp)
    try:
        data = await seed(url, people, cases=clients)
        mediators = data["mediators"][:clients]
        # One more hour each: a first round that warms both servers up (their pools open
        # their connections, the app compiles its statements) and is not counted.
        hours = await free_hours(url, mediators, rounds + 1)
        bodies = [
            [
                {"case_id": case, "mediator_id": person, "starts_at": at.isoformat(), "minutes": 60}
                for at in own
            ]
            for case, person, own in zip(data["cases"], mediators, hours, strict=True)
        ]
        warm, bodies = [own[:1] for own in bodies], [own[1:] for own in bodies]
        floor_bodies = [
            [{"n": i, "t": f"row {i}-{j}"} for j in range(rounds + 1)] for i in range(clients)
        ]
        floor_warm, floor_bodies = [b[:1] for b in floor_bodies], [b[1:] for b in floor_bodies]
        floor_proc, floor_port = start("floor", url)
        try:
            await wait_up(floor_port, "/healthz-none", {})
            await load(floor_port, "/floor", floor_warm, {}, "warm")
            floor_times, _ = await load(floor_port, "/floor", floor_bodies, {})
        finally:
            stop(floor_proc)
        app_proc, app_port = start("app", url)
        headers = {"Authorization": f"Bearer {data['token']}"}
        try:
            await wait_up(app_port, "/healthz", {})
            await load(app_port, "/api/v1/appointments", warm, headers, "warm")
            times, statuses = await load(app_port, "/api/v1/appointments", bodies, headers)
        finally:
            stop(app_proc)
    finally:
        await drop_database(url)
    product, floor = summary(times), summary(floor_times)
    return {
        "bench": "booking",
        "db": kind,
        "people": people,
        "clients": clients,
        "requests": len(times),
        "statuses": statuses,
        "product": product,
        "floor": floor,
        "ratio_p95": round(product["p95_ms"] / floor["p95_ms"], 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_per_booking(kind: str, people: int, bookings: int, tmp: Path) -> dict[str, Any]:
    """One client, `bookings` keyed bookings one after the other (after five to warm up): the
    app process's CPU time per booking, which another process's load inflates far less than
    latency."""
    url = await new_database(kind, tmp)
    try:
        data = await seed(url, people, cases=1)
        person = data["mediators"][0]
        (hours,) = await free_hours(url, [person], bookings + 5)
        bodies = [
            {
                "case_id": data["cases"][0],
                "mediator_id": person,
                "starts_at": at.isoformat(),
                "minutes": 60,
            }
            for at in hours
        ]
        app_proc, app_port = start("app", url)
        headers = {"Authorization": f"Bearer {data['token']}"}
        try:
            await wait_up(app_port, "/healthz", {})
            await load(app_port, "/api/v1/appointments", [bodies[bookings:]], headers, "warm")
            before = cpu_seconds(app_proc.pid)
            _times, statuses = await load(
                app_port, "/api/v1/appointments", [bodies[:bookings]], headers
            )
            used = cpu_seconds(app_proc.pid) - before
        finally:
            stop(app_proc)
    finally:
        await drop_database(url)
    return {
        "bench": "booking-cpu",
        "db": kind,
        "people": people,
        "bookings": bookings,
        "statuses": statuses,
        "server_cpu_ms_per_booking": round(used * 1000 / bookings, 2),
    }


def write(results: list[dict[str, Any]]) -> None:
    lines = [
        "",
        f"### Booking under {results[0]['clients']} concurrent clients, "
        f"{date.today().isoformat()}, "
        f"{platform.machine()}, {os.cpu_count()} cores (`bench_booking.py`)",
        "",
        "| db | people | requests | statuses | product p50 / p95 | floor p50 / p95 | p95 ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['db']} | {r['people']} | {r['requests']} | {r['statuses']} | "
            f"{r['product']['p50_ms']} / {r['product']['p95_ms']} ms | "
            f"{r['floor']['p50_ms']} / {r['floor']['p95_ms']} ms | ×{r['ratio_p95']} |"
        )
    with open(ROOT / "bench" / "README.md", "a") as out:
        out.write("\n".join(lines) + "\n")


async def main(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            for people in (int(p) for p in args.people.split(",")):
                if args.cpu:
                    cpu = await cpu_per_booking(kind, people, args.cpu, Path(tmp))
                    print(json.dumps(cpu), flush=True)
                    continue
                result = await measure(kind, people, args.clients, args.rounds, Path(tmp))
                print(json.dumps(result), flush=True)
                results.append(result)
    if args.write and results:
        write(results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", default="50,200,1000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--cpu", type=int, default=0, help="instead: N bookings by one client, server CPU each"
    )
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
