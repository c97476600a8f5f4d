"""The job/outbox table: enqueue in the same transaction as the change, run after commit.

At least once, never lost: a claim is a lease (`status='running'`, `lease_until`), renewed while
the handler runs. A worker that dies leaves its job to be claimed again once the lease expires.
`attempts` counts claims and doubles as the claim's token: finishing or renewing is a conditional
update on `(id, attempts)`, so a worker whose lease was taken over cannot overwrite the new
owner's result. A crash consumes an attempt, so a job that kills its worker each time ends as a
dead letter instead of killing workers forever. Handlers must be idempotent: side effects carry
an `effect_key`, which is the same on every run of the same job.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import table_of, transaction, utcnow
from app.models import Job
from app.settings import settings_key
from app.tasks import cancel_and_wait
from app.tokens import redact_party_links

log = logging.getLogger("app.jobs")
MAX_ATTEMPTS = 5

JobHandler = Callable[[web.Application, dict[str, Any]], Awaitable[None]]
Redactor = Callable[[dict[str, Any]], dict[str, Any]]


def redact_links_in_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The default for finished jobs: every party link in every string value loses its token."""
    return {key: _redact_value(value) for key, value in payload.items()}


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_party_links(value)
    if isinstance(value, dict):
        return redact_links_in_payload(value)
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """How often a kind of job is tried and how long it waits between tries: `base · 2^n`
    seconds after the n-th failed attempt, capped; with `jitter` a uniform draw below that
    (full jitter), so that receivers coming back from an outage are not hit by every retry at
    once."""

    max_attempts: int = MAX_ATTEMPTS
    base_seconds: float = 1.0
    cap_seconds: float = 3600.0
    jitter: bool = False


DEFAULT_RETRY = RetryPolicy()


def backoff(
    policy: RetryPolicy, attempt: int, draw: Callable[[], float] = random.random
) -> timedelta:
    """The wait after the `attempt`-th failed attempt (1-based)."""
    ceiling = min(policy.cap_seconds, policy.base_seconds * 2.0 ** min(attempt, 62))
    return timedelta(seconds=ceiling * draw() if policy.jitter else ceiling)


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (a receiver refused the request as
    malformed or unauthorised): the job becomes a dead letter at once."""


@dataclass(frozen=True)
class JobKind:
    handler: JobHandler
    # What a finished (done or dead) job keeps of its payload: secrets such as party links are
    # needed only until the job has run.
    redact: Redactor = redact_links_in_payload
    retry: RetryPolicy = DEFAULT_RETRY


@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class Claim:
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int  # the job's `attempts` once claimed: the token of this claim


handlers_key = web.AppKey("job_handlers", dict[str, JobKind])

# The job whose handler the current task is running (None outside a handler). A context
# variable, not a parameter, so that every handler's side effects are keyed by its job without
# each handler passing the job along.
_running_job: ContextVar[int | None] = ContextVar("running_job", default=None)


async def enqueue(
    db: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
    org_id: int | None = None,
) -> None:
    db.add(
        Job(kind=kind, payload=payload, run_after=utcnow() + (delay or timedelta()), org_id=org_id)
    )


def register(
    app: web.Application,
    kind: str,
    handler: JobHandler,
    *,
    redact: Redactor = redact_links_in_payload,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> None:
    app[handlers_key][kind] = JobKind(handler, redact, retry)


def _retry(app: web.Application, kind: str) -> RetryPolicy:
    found = app[handlers_key].get(kind)
    return found.retry if found else DEFAULT_RETRY


def effect_key(*parts: object) -> str:
    """The idempotency key of a side effect (an SMS, a delivery). Outside a job it is random.
    Inside a job handler it is derived from the job and `parts`: a job run again after its
    worker died repeats its keys, so whatever honours them records each effect once."""
    job_id = _running_job.get()
    if job_id is None:
        return uuid.uuid4().hex
    seed = "\x1f".join(map(str, ("job", job_id, *parts)))
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _lease(app: web.Application) -> timedelta:
    return timedelta(seconds=app[settings_key].job_lease_seconds)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.status == "pending", Job.run_after <= now),
        and_(Job.status == "running", Job.lease_until < now),
    )


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(Job.id == claim.job_id, Job.attempts == claim.attempt, Job.status == "running")


async def claim_next(app: web.Application, worker_id: str) -> Claim | None:
    """Claims the next due job (pending, or running on an expired lease), or None."""
    now = utcnow()
    # PostgreSQL: concurrent claimers skip each other's candidate instead of queueing on it.
    # SQLite has one writer at a time, and FOR UPDATE is not emitted there.
    candidate = (
        select(Job.id)
        .where(_claimable(now))
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with transaction(app) as db:
        row = (
            await db.execute(
                update(Job)
                .where(Job.id == candidate, _claimable(now))
                .values(
                    status="running",
                    claimed_by=worker_id[:64],
                    attempts=Job.attempts + 1,
                    lease_until=now + _lease(app),
                )
                .returning(Job.id, Job.kind, Job.payload, Job.attempts)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
    return None if row is None else Claim(row.id, row.kind, row.payload, row.attempts)


async def _keep_lease(app: web.Application, claim: Claim) -> None:
    """Renews the lease while the handler runs, so a long job (a seal) is not taken over."""
    lease = _lease(app)
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        try:
            async with transaction(app) as db:
                renewed = await db.execute(
                    update(Job).where(_held(claim)).values(lease_until=utcnow() + lease)
                )
        except Exception:
            log.exception("job %s: renewing the lease failed; trying again", claim.job_id)
            continue
        if renewed.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("job %s: attempt %s lost its claim", claim.job_id, claim.attempt)
            return


async def execute(app: web.Application, claim: Claim) -> Outcome:
    """Runs the claimed job's handler under a renewed lease; returns its outcome."""
    kind = app[handlers_key].get(claim.kind)
    running = _running_job.set(claim.job_id)
    keeper = asyncio.create_task(_keep_lease(app, claim))
    try:
        if kind is None:
            raise LookupError(f"no handler for job kind {claim.kind!r}")
        await kind.handler(app, claim.payload)
    except PermanentFailure as exc:
        log.warning("job %s (%s) failed for good: %s", claim.job_id, claim.kind, exc)
        return Outcome(redact_party_links(f"{type(exc).__name__}: {exc}"), permanent=True)
    except Exception as exc:
        log.exception("job %s (%s) failed", claim.job_id, claim.kind)
        return Outcome(redact_party_links(f"{type(exc).__name__}: {exc}"))
    finally:
        _running_job.reset(running)
        await cancel_and_wait(keeper)
    return Outcome()


async def finish(app: web.Application, claim: Claim, outcome: Outcome | str | None) -> bool:
    """Records the outcome if `claim` still holds the job; False if another worker took it."""
    if not isinstance(outcome, Outcome):
        outcome = Outcome(outcome)
    error = outcome.error
    kind = app[handlers_key].get(claim.kind)
    redact = kind.redact if kind else redact_links_in_payload
    policy = kind.retry if kind else DEFAULT_RETRY
    values: dict[str, Any] = {"lease_until": None}
    if error is None:
        values |= {"status": "done", "payload": redact(claim.payload)}
    elif outcome.permanent or claim.attempt >= policy.max_attempts:
        values |= {"status": "dead", "last_error": error, "payload": redact(claim.payload)}
    else:
        wait = backoff(policy, claim.attempt)
        values |= {"status": "pending", "last_error": error, "run_after": utcnow() + wait}
    async with transaction(app) as db:
        result = await db.execute(update(Job).where(_held(claim)).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning(
            "job %s: attempt %s finished after its lease was taken over; result dropped",
            claim.job_id,
            claim.attempt,
        )
        return False
    return True


async def run_pending(app: web.Application, worker_id: str | None = None) -> int:
    """Runs every job that is due now; returns how many ran."""
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    ran = 0
    while (claim := await claim_next(app, worker_id)) is not None:
        limit = _retry(app, claim.kind).max_attempts
        if claim.attempt > limit:
            # Only a lease that expired `limit` times gets here: the job's worker died
            # during every attempt. Running it again would likely kill this worker too.
            outcome = Outcome(f"worker lost during each of {limit} attempts", permanent=True)
        else:
            outcome = await execute(app, claim)
        await finish(app, claim, outcome)
        ran += 1
    return ran


async def worker_loop(app: web.Application, interval: float = 1.0) -> None:
    while True:
        try:
            await run_pending(app)
        except Exception:
            log.exception("job worker iteration failed")
        await asyncio.sleep(interval)


# Core, not the ORM's bulk insert: less CPU, the same column defaults.
_QUEUE = insert(table_of(Job))


async def enqueue_all(
    db: AsyncSession, jobs: Sequence[tuple[str, dict[str, Any], timedelta | None]]
) -> None:
    """Several jobs (kind, payload, delay) in one INSERT: a request that queues a notice and
    its reminders pays one statement, not one per job."""
    if not jobs:
        return
    now = utcnow()
    rows = [
        {"kind": kind, "payload": payload, "run_after": now + (delay or timedelta())}
        for kind, payload, delay in jobs
    ]
    await db.execute(_QUEUE, rows)
