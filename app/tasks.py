"""Stopping a background task from another task."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    """Cancels `task` and waits until it has stopped. The task's own CancelledError ends here;
    one addressed to the caller, arriving while it waits, is raised: swallowing it (the usual
    `suppress(CancelledError)` around the await) leaves the caller running after it was
    cancelled, and whoever cancelled it waits for ever."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
