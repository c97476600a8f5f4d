"""The job/outbox table: enqueue in the same transaction as the change, run after commit."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import transaction, utcnow
from app.models import Job

log = logging.getLogger("app.jobs")
MAX_ATTEMPTS = 5

JobHandler = Callable[[web.Application, dict[str, Any]], Awaitable[None]]
handlers_key = web.AppKey("job_handlers", dict[str, JobHandler])


async def enqueue(
    db: AsyncSession, kind: str, payload: dict[str, Any], *, delay: timedelta | None = None
) -> None:
    db.add(Job(kind=kind, payload=payload, run_after=utcnow() + (delay or timedelta())))


def register(app: web.Application, kind: str, handler: JobHandler) -> None:
    app[handlers_key][kind] = handler


async def _claim(app: web.Application, worker_id: str) -> Job | None:
    async with transaction(app) as db:
        candidates = await db.scalars(
            select(Job.id)
            .where(Job.status == "pending", Job.run_after <= utcnow())
            .order_by(Job.run_after, Job.id)
            .limit(5)
        )
        for job_id in candidates:
            claimed = await db.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "pending")
                .values(status="running", claimed_by=worker_id, attempts=Job.attempts + 1)
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return await db.get(Job, job_id)
    return None


async def _finish(app: web.Application, job: Job, error: str | None) -> None:
    async with transaction(app) as db:
        row = await db.get(Job, job.id)
        assert row is not None
        if error is None:
            row.status = "done"
        elif row.attempts >= MAX_ATTEMPTS:
            row.status, row.last_error = "dead", error
        else:
            row.status, row.last_error = "pending", error
            row.run_after = utcnow() + timedelta(seconds=2**row.attempts)


async def run_pending(app: web.Application, worker_id: str | None = None) -> int:
    """Runs every job that is due now; returns how many ran."""
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    ran = 0
    while (job := await _claim(app, worker_id)) is not None:
        handler = app[handlers_key].get(job.kind)
        error = None
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler(app, job.payload)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            error = f"{type(exc).__name__}: {exc}"
        await _finish(app, job, error)
        ran += 1
    return ran


async def worker_loop(app: web.Application, interval: float = 1.0) -> None:
    while True:
        try:
            await run_pending(app)
        except Exception:
            log.exception("job worker iteration failed")
        await asyncio.sleep(interval)
