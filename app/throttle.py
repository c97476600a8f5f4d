"""Rate limits on guessing (passwords, party links), shared by every app process.

A limit counts attempts per key (an account, a client address) in fixed windows. An attempt is
counted *before* the work it guards, atomically, so a burst of concurrent guesses cannot all
slip through between a check and a write; an attempt that turns out legitimate (a right
password, a valid link) is given back. Counters live in Redis when `REDIS_URL` is set and in the
database otherwise; both are atomic increments, so several app processes share one count.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite

from app.db import dialect_of, transaction
from app.errors import TooManyRequests
from app.models import ThrottleCounter
from app.settings import settings_key

Clock = Callable[[], float]
PURGE_EVERY = 500  # database backend: drop expired counters every this many attempts


@dataclass(frozen=True)
class Limit:
    key: str  # e.g. "login:account:zhou", "link:client:203.0.113.7"
    most: int  # attempts allowed per window


class Counters(ABC):
    """Atomic per-window counters."""

    def __init__(self, window_seconds: int, clock: Clock = time.time) -> None:
        self.window_seconds = window_seconds
        self.clock = clock

    def window(self) -> tuple[int, int]:
        """The current window's number and the seconds until it ends."""
        now = self.clock()
        number = int(now // self.window_seconds)
        return number, max(1, int((number + 1) * self.window_seconds - now + 0.999))

    @abstractmethod
    async def add(self, key: str, window: int, amount: int) -> int:
        """Adds `amount` (±1) to the key's count in that window; the count after."""

    async def close(self) -> None:
        return None


class DatabaseCounters(Counters):
    def __init__(self, app: web.Application, window_seconds: int, clock: Clock = time.time):
        super().__init__(window_seconds, clock)
        self.app = app
        self.attempts = 0

    async def add(self, key: str, window: int, amount: int) -> int:
        expires = datetime.fromtimestamp((window + 1) * self.window_seconds, UTC)
        async with transaction(self.app) as db:
            if amount < 0:
                await db.execute(
                    update(ThrottleCounter)
                    .where(ThrottleCounter.key == key, ThrottleCounter.window == window)
                    .values(count=ThrottleCounter.count + amount)
                )
                return 0
            insert = postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert
            statement = (
                insert(ThrottleCounter)
                .values(key=key, window=window, count=amount, expires_at=expires)
                .on_conflict_do_update(
                    index_elements=[ThrottleCounter.key, ThrottleCounter.window],
                    set_={"count": ThrottleCounter.count + amount},
                )
                .returning(ThrottleCounter.count)
            )
            count = int((await db.execute(statement)).scalar_one())
            self.attempts += 1
            if self.attempts % PURGE_EVERY == 0:
                now = datetime.fromtimestamp(self.clock(), UTC)
                await db.execute(delete(ThrottleCounter).where(ThrottleCounter.expires_at < now))
        return count


class RedisCounters(Counters):
    def __init__(self, url: str, namespace: str, window_seconds: int, clock: Clock = time.time):
        super().__init__(window_seconds, clock)
        self.redis = Redis.from_url(url, decode_responses=True)
        self.namespace = namespace

    async def add(self, key: str, window: int, amount: int) -> int:
        name = f"{self.namespace}:{key}:{window}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expire(name, self.window_seconds + 5)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.redis.aclose()


class Throttle:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def attempt(self, *limits: Limit, message: str) -> Callable[[], Awaitable[None]]:
        """Counts one attempt against every limit, or raises TooManyRequests when any is spent.
        Returns `give_back`, to call when the attempt proved legitimate."""
        window, retry_after = self.counters.window()
        counted: list[str] = []
        try:
            for limit in limits:
                counted.append(limit.key)
                if await self.counters.add(limit.key, window, 1) > limit.most:
                    raise TooManyRequests(message, retry_after, minutes=-(-retry_after // 60))
        except TooManyRequests:
            await self._give_back(counted, window)
            raise

        async def give_back() -> None:
            await self._give_back(counted, window)

        return give_back

    async def _give_back(self, keys: list[str], window: int) -> None:
        for key in keys:
            await self.counters.add(key, window, -1)


def client_address(request: web.Request) -> str:
    """The client's address; behind a trusted proxy, the last hop it recorded."""
    if request.app[settings_key].trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return (request.remote or "unknown")[:64]


def account_key(username: str) -> str:
    # Hashed: the counter table would otherwise keep every name someone tried.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


throttle_key = web.AppKey("throttle", Throttle)


async def throttle_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    counters: Counters
    if settings.redis_url:
        namespace = "throttle:" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        counters = RedisCounters(settings.redis_url, namespace, settings.throttle_window_seconds)
    else:
        counters = DatabaseCounters(app, settings.throttle_window_seconds)
    app[throttle_key] = Throttle(counters)
    yield
    await counters.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(throttle_context)
