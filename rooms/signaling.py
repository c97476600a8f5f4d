"""Room signaling, the application side (see rooms/PROTOCOL.md): the actor's limits, the set of
live connections, and the app hooks that reach every connection of a room through the bus
(shutdown, revoked sessions, a concluded case). The per-socket actor is rooms/connection.py, the
client commands rooms/commands.py, and who is told what rooms/audience.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from app.db import sessionmaker_key, transaction
from app.revocation import Revoked
from rooms import policy, services
from rooms.bus import bus_key

if TYPE_CHECKING:
    from rooms.connection import Connection


@dataclass(frozen=True)
class Limits:
    max_msg_size: int = 64 * 1024
    heartbeat: float = 20.0
    join_timeout: float = 10.0
    close_timeout: float = 5.0
    queue_size: int = 256
    rate: float = 30.0  # messages per second, sustained
    burst: float = 150.0  # a mesh start sends offers and a few dozen candidates at once


limits_key = web.AppKey("rooms_limits", Limits)
live_key = web.AppKey("rooms_live_connections", set["Connection"])


async def close_all(app: web.Application) -> None:
    """on_shutdown: tell every client to go (1001); browsers reconnect to another process."""
    for connection in list(app.get(live_key, ())):
        connection.close(1001)


async def close_sessions(app: web.Application, revoked: Revoked) -> None:
    """on_revoked: every connection opened through a revoked browser session closes (4401), in
    whichever process serves it (the event goes through each affected room's bus)."""
    async with app[sessionmaker_key]() as db:
        rooms = await services.open_rooms_of(db, revoked.principals)
    event = {"kind": "revoked", "sessions": list(revoked.session_ids)}
    for room_id in rooms:
        await app[bus_key].publish(room_id, event)


async def close_if_concluded(app: web.Application, case_id: int, status: str) -> None:
    """on_case_status: a ruling (or closure) ends the case's live room at once."""
    if status in policy.CONCLUDED_CASE_STATUSES:
        await close_rooms_of_case(app, case_id)


async def close_rooms_of_case(app: web.Application, case_id: int) -> None:
    """The case is concluded: its rooms close, and everyone still connected there is told."""
    async with transaction(app) as db:
        closed = await services.do_close_rooms(db, case_id)
    for room_id in closed:
        await app[bus_key].publish(room_id, {"kind": "room", "state": "closed"})
