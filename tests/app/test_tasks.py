"""Stopping a background task must not swallow the stopper's own cancellation: the job
worker's lease keeper was stopped that way, and a worker cancelled at that instant kept running,
so the app's shutdown waited for it for ever (seen once in a full test run)."""

from __future__ import annotations

import asyncio

import pytest

from app.tasks import cancel_and_wait


async def _slow_to_stop() -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)  # cleaning up, as the keeper's last renewal may be
        raise


async def test_the_stopper_cancelled_while_it_waits_is_cancelled() -> None:
    inner = asyncio.create_task(_slow_to_stop())
    await asyncio.sleep(0)
    went_on = asyncio.Event()

    async def stopper() -> None:
        await cancel_and_wait(inner)
        went_on.set()  # only if its own cancellation was swallowed
        await asyncio.sleep(3600)

    outer = asyncio.create_task(stopper())
    await asyncio.sleep(0.01)  # the stopper now waits for the inner task
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(outer, 2)
    assert not went_on.is_set()
    assert inner.done()


async def test_the_stopped_task_s_cancellation_ends_there() -> None:
    inner = asyncio.create_task(asyncio.sleep(3600))
    await cancel_and_wait(inner)  # returns: the CancelledError was the inner task's
    assert inner.cancelled()
