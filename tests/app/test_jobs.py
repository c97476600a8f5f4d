"""The job queue's leases: a dead worker's job is claimed again, a live one is not, a stale owner
cannot overwrite the new owner's result, and a job run twice has its side effects recorded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update

from app.db import sessionmaker_key, transaction, utcnow
from app.factory import create_app
from app.jobs import (
    MAX_ATTEMPTS,
    Claim,
    claim_next,
    enqueue,
    execute,
    finish,
    register,
    run_pending,
)
from app.models import CaseEvent, Job, Message
from app.notify import send_sms
from app.tokens import new_token
from tests.people import seed_ids


@asynccontextmanager
async def started(app: web.Application) -> AsyncIterator[web.Application]:
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()


async def queue(app: web.Application, kind: str, payload: dict[str, Any]) -> int:
    async with transaction(app) as db:
        await enqueue(db, kind, payload)
        await db.flush()
        return int(await db.scalar(select(func.max(Job.id))) or 0)


async def job(app: web.Application, job_id: int) -> Job:
    async with app[sessionmaker_key]() as db:
        row = await db.get(Job, job_id)
    assert row is not None
    return row


async def expire_lease(app: web.Application, job_id: int) -> None:
    async with transaction(app) as db:
        past = utcnow() - timedelta(seconds=1)
        await db.execute(update(Job).where(Job.id == job_id).values(lease_until=past))


async def test_live_lease_is_kept_and_an_expired_one_is_claimed_again(app, client) -> None:
    job_id = await queue(app, "noop", {})
    first = await claim_next(app, "worker-1")
    assert first is not None and (first.job_id, first.attempt) == (job_id, 1)
    row = await job(app, job_id)
    assert row.status == "running" and row.lease_until is not None and row.lease_until > utcnow()

    assert await claim_next(app, "worker-2") is None  # the lease is live

    await expire_lease(app, job_id)  # worker-1 died
    second = await claim_next(app, "worker-2")
    assert second is not None and (second.job_id, second.attempt) == (job_id, 2)
    assert (await job(app, job_id)).claimed_by == "worker-2"


async def test_a_stale_owner_cannot_overwrite_the_new_owners_result(app, client) -> None:
    job_id = await queue(app, "noop", {})
    stale = await claim_next(app, "worker-1")
    assert stale is not None
    await expire_lease(app, job_id)
    owner = await claim_next(app, "worker-2")
    assert owner is not None

    assert await finish(app, stale, "RuntimeError: too late") is False
    row = await job(app, job_id)
    assert row.status == "running" and row.last_error is None and row.claimed_by == "worker-2"

    assert await finish(app, owner, None) is True
    assert (await job(app, job_id)).status == "done"
    assert await finish(app, stale, None) is False  # nor after the new owner finished


async def test_a_long_handler_renews_its_lease(settings) -> None:
    app = create_app(replace(settings, job_lease_seconds=1))
    stolen: list[Claim] = []

    async def slow(_app: web.Application, _payload: dict[str, Any]) -> None:
        for _ in range(12):  # 2.4 s: more than two leases
            await asyncio.sleep(0.2)
            if claim := await claim_next(app, "thief"):
                stolen.append(claim)

    async with started(app):
        register(app, "slow", slow)
        job_id = await queue(app, "slow", {})
        assert await run_pending(app, "owner") == 1
        row = await job(app, job_id)
    assert stolen == []
    assert (row.status, row.attempts, row.claimed_by) == ("done", 1, "owner")


async def test_failures_back_off_then_become_a_dead_letter_without_the_link(app, client) -> None:
    link = f"http://127.0.0.1:8080/p/{new_token()}"

    async def fails(_app: web.Application, payload: dict[str, Any]) -> None:
        raise RuntimeError(f"gateway refused {payload['text']}")

    register(app, "fails", fails)
    job_id = await queue(app, "fails", {"text": f"open {link}"})
    assert await run_pending(app) == 1
    row = await job(app, job_id)
    assert row.status == "pending" and row.run_after > utcnow() + timedelta(seconds=1)
    assert link in row.payload["text"]  # still needed for the retry
    assert row.last_error is not None and link not in row.last_error

    async with transaction(app) as db:
        await db.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(attempts=MAX_ATTEMPTS - 1, run_after=utcnow())
        )
    assert await run_pending(app) == 1
    row = await job(app, job_id)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert row.payload == {"text": "open http://127.0.0.1:8080/p/••••"}
    assert row.last_error == "RuntimeError: gateway refused open http://127.0.0.1:8080/p/••••"


async def test_a_job_whose_worker_died_every_time_is_a_dead_letter(app, client) -> None:
    runs: list[dict[str, Any]] = []

    async def record(_app: web.Application, payload: dict[str, Any]) -> None:
        runs.append(payload)

    register(app, "crashes", record)
    job_id = await queue(app, "crashes", {})
    async with transaction(app) as db:
        await db.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", attempts=MAX_ATTEMPTS, lease_until=utcnow())
        )
    assert await run_pending(app) == 1
    row = await job(app, job_id)
    assert runs == [] and row.status == "dead" and "worker lost" in (row.last_error or "")


async def test_a_job_run_again_after_a_crash_sends_each_sms_once(app, client) -> None:
    async def notify(app: web.Application, payload: dict[str, Any]) -> None:
        async with transaction(app) as db:
            await send_sms(db, payload["phone"], "您的案件已受理", None)

    register(app, "notify", notify)
    job_id = await queue(app, "notify", {"phone": "13912345678"})
    claim = await claim_next(app, "worker-1")
    assert claim is not None and (await execute(app, claim)).error is None
    await expire_lease(app, job_id)  # worker-1 died after its handler committed

    assert await run_pending(app) == 3  # the notify job again, then both SMS jobs it queued
    async with app[sessionmaker_key]() as db:
        sms_jobs = list(await db.scalars(select(Job).where(Job.kind == "sms")))
        messages = list(await db.scalars(select(Message)))
    assert len(sms_jobs) == 2 and all(j.status == "done" for j in sms_jobs)
    assert sms_jobs[0].payload["key"] == sms_jobs[1].payload["key"]
    assert [m.key for m in messages] == [sms_jobs[0].payload["key"]]


async def test_a_red_alert_run_twice_is_recorded_and_texted_once(app, client) -> None:
    ids = await seed_ids(app)
    job_id = await queue(app, "red_alert", {"case_id": ids["case"], "org_id": ids["org:town"]})
    claim = await claim_next(app, "worker-1")
    assert claim is not None and (await execute(app, claim)).error is None
    await expire_lease(app, job_id)
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        events = await db.scalar(
            select(func.count(CaseEvent.id)).where(CaseEvent.kind == "red_alert")
        )
        recipients = list(await db.scalars(select(Message.recipient)))
    assert events == 1
    assert recipients == ["13800000002"]  # the town's coordinator
