"""How many pool connections a piece of code held at once, and took in all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import event

from app.db import engine_key


@dataclass
class PoolUse:
    held: int = 0
    most: int = 0  # connections held at the same time, at most
    checkouts: int = 0


@contextmanager
def pool_use(app: web.Application) -> Iterator[PoolUse]:
    pool = app[engine_key].sync_engine.pool
    use = PoolUse()

    def out(*_args: object) -> None:
        use.held += 1
        use.checkouts += 1
        use.most = max(use.most, use.held)

    def back(*_args: object) -> None:
        use.held -= 1

    event.listen(pool, "checkout", out)
    event.listen(pool, "checkin", back)
    try:
        yield use
    finally:
        event.remove(pool, "checkout", out)
        event.remove(pool, "checkin", back)
