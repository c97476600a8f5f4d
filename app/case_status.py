"""A case's status changed (announced after the change committed). Features that hold something
open for a case — a live room — register here to react at once, instead of at the next request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

StatusListener = Callable[[web.Application, int, str], Awaitable[None]]
status_listeners_key = web.AppKey("case_status_listeners", list[StatusListener])


def on_case_status(app: web.Application, listener: StatusListener) -> None:
    app.setdefault(status_listeners_key, []).append(listener)


async def announce_case_status(app: web.Application, case_id: int, status: str) -> None:
    """Call after the transaction that set `status` committed."""
    for listener in app.get(status_listeners_key, []):
        await listener(app, case_id, status)
