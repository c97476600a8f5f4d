"""Guessing is throttled: failed logins per account and per client, unknown party links per
client, with 429 and Retry-After; the count holds across app processes (through the database,
or through Redis when configured) and under a concurrent burst."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from app.factory import create_app
from app.settings import Settings
from tests.people import csrf, party_link, seed_ids

REDIS_URL = "redis://127.0.0.1:6379/0"


async def started(aiohttp_client, settings: Settings, n: int = 1):
    """n app processes' worth of apps on one database, each behind its own test server."""
    clients = [await aiohttp_client(create_app(settings)) for _ in range(n)]
    ids = await seed_ids(clients[0].server.app)
    return clients, ids


async def try_login(client, username: str, password: str, token: str | None = None):
    token = token or await csrf(client, "/login")
    return await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": token},
        allow_redirects=False,
    )


async def test_failed_logins_for_one_account_are_refused_after_the_limit(
    aiohttp_client, settings
) -> None:
    settings = replace(settings, login_failures_per_account=5, login_failures_per_client=1000)
    (client,), _ids = await started(aiohttp_client, settings)
    token = await csrf(client, "/login")
    statuses = [(await try_login(client, "mediator", "wrong", token)).status for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    refused = await try_login(client, "mediator", "demo-2026-pass", token)
    assert refused.status == 429  # the account is locked for the window, right password or not
    assert 0 < int(refused.headers["Retry-After"]) <= settings.throttle_window_seconds
    assert "登录失败次数过多" in await refused.text()
    other = await try_login(client, "coordinator", "demo-2026-pass", token)
    assert other.status == 303  # another account from the same client is not affected


async def test_a_concurrent_burst_cannot_slip_past_the_limit(aiohttp_client, settings) -> None:
    settings = replace(settings, login_failures_per_account=5, login_failures_per_client=1000)
    (client,), _ids = await started(aiohttp_client, settings)
    token = await csrf(client, "/login")
    responses = await asyncio.gather(
        *(try_login(client, "mediator", f"guess-{i}", token) for i in range(40))
    )
    statuses = [r.status for r in responses]
    assert statuses.count(401) == 5 and statuses.count(429) == 35


async def test_failures_from_one_client_across_accounts_are_limited(
    aiohttp_client, settings
) -> None:
    settings = replace(settings, login_failures_per_account=100, login_failures_per_client=6)
    (client,), _ids = await started(aiohttp_client, settings)
    token = await csrf(client, "/login")
    names = ["mediator", "coordinator", "clerk", "admin", "expert", "mediator2", "nobody", "x"]
    statuses = [(await try_login(client, name, "wrong", token)).status for name in names]
    assert statuses == [401] * 6 + [429] * 2


async def test_unknown_links_are_limited_per_client_and_good_links_do_not_count(
    aiohttp_client, settings
) -> None:
    settings = replace(settings, link_failures_per_client=10)
    (client,), ids = await started(aiohttp_client, settings)
    for _ in range(12):  # people open their own link often; that is not guessing
        good = await client.get(
            await party_link(client.server.app, ids["case"]), allow_redirects=False
        )
        assert good.status == 303
    statuses = []
    for _ in range(14):
        response = await client.get(f"/p/{secrets.token_urlsafe(32)}", allow_redirects=False)
        statuses.append(response.status)
    assert statuses == [410] * 10 + [429] * 4
    assert int(response.headers["Retry-After"]) > 0
    assert "无效链接" in await response.text()
    blocked = await client.get(await party_link(client.server.app, ids["case"]))
    assert blocked.status == 429


async def redis_url() -> str:
    """The local Redis, emptied of earlier tests' counters (they share the test database)."""
    redis = aioredis.Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except OSError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    for key in await redis.keys("throttle:*"):
        await redis.delete(key)
    await redis.aclose()
    return REDIS_URL


@pytest.mark.parametrize("shared_through", ["database", "redis"])
async def test_the_count_is_shared_by_processes(aiohttp_client, settings, shared_through) -> None:
    settings = replace(
        settings,
        redis_url=await redis_url() if shared_through == "redis" else None,
        login_failures_per_account=6,
        login_failures_per_client=1000,
    )
    clients, _ids = await started(aiohttp_client, settings, n=2)
    tokens = [await csrf(c, "/login") for c in clients]
    statuses = [
        (await try_login(clients[i % 2], "mediator", "wrong", tokens[i % 2])).status
        for i in range(10)
    ]
    assert statuses == [401] * 6 + [429] * 4


async def test_the_limit_lifts_when_the_window_ends(aiohttp_client, settings) -> None:
    settings = replace(
        settings,
        throttle_window_seconds=2,
        login_failures_per_account=2,
        login_failures_per_client=1000,
    )
    (client,), _ids = await started(aiohttp_client, settings)
    token = await csrf(client, "/login")
    # Start at the beginning of a window, so the three attempts fall in the same one.
    await asyncio.sleep(2 - time.time() % 2 + 0.05)
    statuses = [(await try_login(client, "mediator", "wrong", token)).status for _ in range(3)]
    assert statuses == [401, 401, 429]
    await asyncio.sleep(2 - time.time() % 2 + 0.05)
    assert (await try_login(client, "mediator", "demo-2026-pass", token)).status == 303
