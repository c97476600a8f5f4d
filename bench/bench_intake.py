"""Intake: filing an application (2 parties, 60 group members) and uploading a 10 MiB evidence
PDF through the real HTTP API, on a migrated SQLite database (or DATABASE_URL).

    .venv/bin/python bench/bench_intake.py --runs 30

Reports medians and p90 of the request latency, as the client sees it, one request at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from app.auth import create_api_token
from app.db import make_engine, transaction
from app.demo import seed_demo
from app.factory import create_app
from app.migrate import upgrade
from app.models import Organization, StaffUser
from app.settings import Settings

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "60"))


def application(org_id: int, i: int) -> dict[str, object]:
    return {
        "org_id": org_id,
        "dispute_type": "demolition",
        "description": f"基准测试：拆迁补偿纠纷第{i}号，六十户村民对补偿标准有异议。",
        "parties": [
            {"side": "applicant", "name": "王秀兰", "phone": "13912345678"},
            {
                "side": "respondent",
                "kind": "organisation",
                "name": "松陵街道拆迁办公室",
                "phone": "13787654321",
                "credit_code": "914403001922038216",
            },
        ],
        "group_members": [
            {"name": f"村民{m}", "phone": f"139{i % 10000:04d}{m:04d}", "address": f"联杨村{m}号"}
            for m in range(MEMBERS)
        ],
    }


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{name}: median {statistics.median(ordered):.1f} ms, p90 {p90:.1f} ms (n={len(ordered)})"
    )


async def timed(call: Callable[[], Awaitable[ClientResponse]]) -> float:
    started = time.perf_counter()
    response = await call()
    assert response.status == 201, await response.text()
    return (time.perf_counter() - started) * 1000


async def run(runs: int, var: Path) -> None:
    url = os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{var / 'bench.db'}")
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = Settings(database_url=url, var_dir=var, mode="development", run_worker=False)
    app = create_app(replace(settings, log_level="ERROR"))
    async with TestClient(TestServer(app)) as client:
        await seed_demo(app)
        async with transaction(app) as db:
            town = await db.scalar(select(Organization).where(Organization.tier == "town"))
            user = await db.scalar(select(StaffUser).where(StaffUser.username == "coordinator"))
            assert town is not None and user is not None
            token = await create_api_token(db, user.id, "bench")
        auth = {"Authorization": f"Bearer {token}"}
        filing: list[float] = []
        uploads: list[float] = []
        for i in range(runs):
            body = application(town.id, i)
            filing.append(
                await timed(lambda: client.post("/api/v1/applications", json=body, headers=auth))  # noqa: B023
            )
        pdf = b"%PDF-1.7\n" + os.urandom(10 * 1024 * 1024 - 10)
        case_id = 1  # the demo case
        for _ in range(runs):
            form = FormData()
            form.add_field("file", pdf, filename="scan.pdf", content_type="application/pdf")
            path = f"/api/v1/cases/{case_id}/evidence"
            uploads.append(
                await timed(lambda: client.post(path, data=form, headers=auth))  # noqa: B023
            )
    print(f"database: {url.split(':')[0]}")
    print(summary(f"POST /api/v1/applications (2 parties, {MEMBERS} members)", filing))
    print(summary("POST /api/v1/cases/{id}/evidence (10 MiB PDF)", uploads))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.runs, Path(tmp)))


if __name__ == "__main__":
    main()
