"""Crash injection: `kill -9` of `python -m app worker` at random moments loses no SMS and
records none twice. A killed worker's job stays `running` until its lease expires, then is
claimed again; the SMS backend honours each message's idempotency key."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from app.db import sessionmaker_key, transaction, utcnow
from app.jobs import MAX_ATTEMPTS, run_pending
from app.models import Job, Message
from app.notify import send_sms
from app.tokens import new_token
from tests.app.worker_kills import kill_while_running, start_worker, statuses

JOBS = 300
# A job hit by every kill has used ROUNDS attempts and keeps one for the drain: a crash costs an
# attempt, and this test must not turn a good SMS into a dead letter.
ROUNDS = MAX_ATTEMPTS - 1


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
        await kill_while_running(app, process, log)
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
