"""Crash injection: `kill -9` of `python -m app worker` at random moments loses no SMS and
records none twice. A killed worker's job stays `running` until its lease expires, then is
claimed again; the SMS backend honours each message's idempotency key."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from app.db import sessionmaker_key, transaction, utcnow
from app.jobs import MAX_ATTEMPTS, run_pending
from app.models import Job, Message
from app.notify import send_sms
from app.settings import ROOT
from app.tokens import new_token

JOBS = 300
LEASE_SECONDS = 2
# A job hit by every kill has used ROUNDS attempts and keeps one for the drain: a crash costs an
# attempt, and this test must not turn a good SMS into a dead letter.
ROUNDS = MAX_ATTEMPTS - 1


async def statuses(app: web.Application) -> dict[str, int]:
    async with app[sessionmaker_key]() as db:
        rows = await db.execute(select(Job.status, func.count()).group_by(Job.status))
        return {status: count for status, count in rows.all()}


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


async def kill_while_working(
    app: web.Application, process: asyncio.subprocess.Process, log: Path
) -> None:
    """Waits until the worker has finished a job of this round, then kills it a moment later."""
    done_before = (await statuses(app)).get("done", 0)
    deadline = time.monotonic() + 60
    while (await statuses(app)).get("done", 0) == done_before:
        assert process.returncode is None, output(log)
        assert time.monotonic() < deadline, "the worker made no progress"
        await asyncio.sleep(0.02)
    await asyncio.sleep(random.uniform(0, 0.25))
    process.kill()
    await process.wait()


async def test_killed_workers_lose_no_sms_and_send_none_twice(
    app, client, database_url, tmp_path
) -> None:
    async with transaction(app) as db:
        for i in range(JOBS):
            body = f"第{i}号通知：请用手机打开 http://127.0.0.1:8080/p/{new_token()} 参加"
            await send_sms(db, f"139{i:08d}", body, None)

    log = tmp_path / "worker.log"
    crashed_while_running = 0
    for _ in range(ROUNDS):
        if (await statuses(app)).get("done", 0) == JOBS:
            break
        process = await start_worker(database_url, tmp_path, log)
        await kill_while_working(app, process, log)
        crashed_while_running += (await statuses(app)).get("running", 0) > 0
    assert crashed_while_running, "no kill left a job running: the test exercised nothing"

    # Drain: once the dead workers' leases have expired, another worker finishes their jobs.
    async with app[sessionmaker_key]() as db:
        leases = await db.scalar(select(func.max(Job.lease_until)).where(Job.status == "running"))
    if leases is not None:
        await asyncio.sleep(max(0.0, (leases - utcnow()).total_seconds()) + 0.1)
    await run_pending(app)

    async with app[sessionmaker_key]() as db:
        jobs = list(await db.scalars(select(Job)))
        messages = list(await db.scalars(select(Message)))
    assert await statuses(app) == {"done": JOBS}
    assert any(job.attempts > 1 for job in jobs)  # some job was claimed again after a kill
    keys = [message.key for message in messages]
    assert len(keys) == JOBS and set(keys) == {job.payload["key"] for job in jobs}
    assert sorted(m.recipient for m in messages) == [f"139{i:08d}" for i in range(JOBS)]
    # Delivered, so no stored copy keeps a link (the outbox does not show links here).
    assert all("/p/••••" in m.body for m in messages)
    assert all("/p/••••" in job.payload["body"] for job in jobs)
