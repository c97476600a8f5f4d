"""Revoked sessions (logout, a reissued party link). A request always re-reads its session, but a
feature that holds a connection open beyond one request (a room's WebSocket) registers here and
is told, after the revocation committed, to close what those sessions hold open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class Revoked:
    principals: tuple[str, ...]  # principal keys (party:7, staff:3) whose sessions ended
    session_ids: tuple[int, ...]  # the WebSession ids revoked


RevokedListener = Callable[[web.Application, Revoked], Awaitable[None]]
revoked_listeners_key = web.AppKey("revoked_listeners", list[RevokedListener])


def on_revoked(app: web.Application, listener: RevokedListener) -> None:
    app.setdefault(revoked_listeners_key, []).append(listener)


async def announce_revoked(app: web.Application, revoked: Revoked) -> None:
    """Call after the revocation committed."""
    if not revoked.session_ids:
        return
    for listener in app.get(revoked_listeners_key, []):
        await listener(app, revoked)
