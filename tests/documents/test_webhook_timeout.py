"""A court system that does not answer in time (`MEDIATION_WEBHOOK_TIMEOUT_SECONDS`) is tried
again later, like a 5xx, on both databases."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from app.db import sessionmaker_key, transaction, utcnow
from app.jobs import run_pending
from app.models import Job
from app.settings import Settings
from app.webhooks import KIND
from tests.builders import filed
from tests.court_receiver import Receiver, running_receiver
from tests.documents.test_court_webhooks import hook_up

TIMEOUT = 1.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, webhook_timeout_seconds=TIMEOUT)


async def test_a_receiver_that_does_not_answer_in_time_is_tried_again(app, client, demo) -> None:
    async with running_receiver(Receiver(delay=3 * TIMEOUT)) as receiver:
        await hook_up(client, app, demo, receiver)
        await filed(app, demo)
        started = utcnow()
        await run_pending(app)
        elapsed = (utcnow() - started).total_seconds()
        async with app[sessionmaker_key]() as db:
            (job,) = list(await db.scalars(select(Job).where(Job.kind == KIND)))
        assert elapsed < 2.5 * TIMEOUT  # the worker did not wait for the answer
        assert (job.status, job.attempts) == ("pending", 1)
        assert job.last_error is not None and "Timeout" in job.last_error

        # The slow receiver still handled it; the retry is a duplicate it registers once.
        receiver.delay = 0
        await asyncio.sleep(3 * TIMEOUT)
        async with transaction(app) as db:
            await db.execute(update(Job).values(run_after=utcnow()))
        await run_pending(app)
    assert list(receiver.registered) == [job.payload["key"]]
    assert dict(receiver.duplicates) == {job.payload["key"]: 1}
