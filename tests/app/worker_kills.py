"""Crash injection shared by the worker tests: `python -m app worker` started as its own
process and SIGKILLed while it holds a job."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.models import Job
from app.settings import ROOT

LEASE_SECONDS = 2


async def statuses(app: web.Application, kind: str | None = None) -> dict[str, int]:
    query = select(Job.status, func.count()).group_by(Job.status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    async with app[sessionmaker_key]() as db:
        return {status: count for status, count in (await db.execute(query)).all()}


def output(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


async def start_worker(database_url: str, var_dir: Path, log: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIATION_VAR_DIR": str(var_dir),
        "MEDIATION_MODE": "development",
        "MEDIATION_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "worker", cwd=ROOT, env=env, stdout=out, stderr=out
        )


async def kill_while_running(
    app: web.Application,
    process: asyncio.subprocess.Process,
    log: Path,
    kind: str | None = None,
    *,
    within: float = 60,
) -> None:
    """Waits until the worker has finished a job of this round, then kills it a random moment
    later, at an instant it holds a job (on a loaded machine the gaps between jobs are long
    enough to be hit every time otherwise)."""
    deadline = time.monotonic() + within

    async def wait_for(ready: Callable[[], Awaitable[bool]]) -> None:
        while not await ready():
            assert process.returncode is None, output(log)
            assert time.monotonic() < deadline, "the worker made no progress"
            await asyncio.sleep(0.005)

    done_before = (await statuses(app, kind)).get("done", 0)

    async def finished_one() -> bool:
        return (await statuses(app, kind)).get("done", 0) > done_before

    async def holds_one() -> bool:
        return bool((await statuses(app, kind)).get("running", 0))

    await wait_for(finished_one)
    await asyncio.sleep(random.uniform(0, 0.25))
    await wait_for(holds_one)
    process.kill()
    await process.wait()
