"""SMS delivery: once per idempotency key, and a party link kept in clear only until the SMS is
handed over (the development outbox may keep it when settings ask)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.factory import create_app
from app.jobs import run_pending
from app.logs import MaskingFilter
from app.models import Job, Message
from app.notify import Sms, outbox_keeps_links, send_sms, sms_backend_key
from app.settings import Settings
from app.tokens import new_token, redact_party_links

BASE = "http://127.0.0.1:8080"


def test_redact_party_links_hides_every_token_and_nothing_else() -> None:
    token = new_token()
    text = f"请用手机打开 {BASE}/p/{token} 参加，无需安装应用。GET /p/{token}?x=1 /cases/12"
    redacted = redact_party_links(text)
    assert token not in redacted
    assert redacted == (f"请用手机打开 {BASE}/p/•••• 参加，无需安装应用。GET /p/••••?x=1 /cases/12")
    assert redact_party_links("/p/%41bc-_x") == "/p/••••"


def test_logs_redact_party_links_in_messages_and_tracebacks() -> None:
    token = new_token()
    try:
        raise ValueError(f"bad /p/{token}")
    except ValueError as exc:
        record = logging.LogRecord(
            "app.http",
            logging.ERROR,
            __file__,
            1,
            "GET %s",
            (f"/p/{token}",),
            (ValueError, exc, None),
        )
    MaskingFilter().filter(record)
    assert record.getMessage() == "GET /p/••••"
    assert record.exc_text is not None and "ValueError: bad /p/••••" in record.exc_text
    assert token not in logging.Formatter().format(record)


async def test_a_key_is_delivered_once_even_concurrently(app, client) -> None:
    sms = Sms("k" * 32, "13912345678", "您的调解定于明天", None)
    backend = app[sms_backend_key]
    await asyncio.gather(*(backend.deliver(sms) for _ in range(4)))
    await backend.deliver(sms)
    await backend.deliver(replace(sms, key="other"))
    async with app[sessionmaker_key]() as db:
        keys = list(await db.scalars(select(Message.key).order_by(Message.id)))
    assert keys == ["k" * 32, "other"]


def test_only_the_development_outbox_may_keep_links() -> None:
    settings = Settings()
    assert outbox_keeps_links(replace(settings, mode="development", outbox_shows_links=True))
    assert not outbox_keeps_links(replace(settings, mode="development", outbox_shows_links=False))
    # Production refuses to start with the setting on; should it run anyway, links are redacted.
    assert not outbox_keeps_links(replace(settings, mode="production", outbox_shows_links=True))


@pytest.mark.parametrize("shows_links", [True, False])
async def test_links_are_redacted_once_delivered(settings, shows_links) -> None:
    app = create_app(replace(settings, mode="development", outbox_shows_links=shows_links))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        link = f"{BASE}/p/{new_token()}"
        async with transaction(app) as db:
            await send_sms(db, "13912345678", f"请用手机打开 {link} 参加", None)
        async with app[sessionmaker_key]() as db:
            queued = await db.scalar(select(Job))
        assert queued is not None and link in queued.payload["body"]  # until it is handed over

        assert await run_pending(app) == 1
        async with app[sessionmaker_key]() as db:
            done = await db.scalar(select(Job))
            message = await db.scalar(select(Message))
    finally:
        await runner.cleanup()
    assert done is not None and message is not None
    assert done.status == "done" and done.payload["body"] == f"请用手机打开 {BASE}/p/•••• 参加"
    assert message.key == done.payload["key"]
    assert (link in message.body) is shows_links
    sent = f"请用手机打开 {link} 参加" if shows_links else done.payload["body"]
    assert message.body == f"【人民调解】{sent}"  # signed: the platform's, about no case


async def test_a_case_sms_is_signed_with_its_organisation(app, client, demo) -> None:
    async with transaction(app) as db:
        await send_sms(db, "13912345678", "您的案件已受理。", demo["case"])
        await send_sms(db, "13912345679", "【吴江区人民法院】已送达。", demo["case"])
    assert await run_pending(app) == 2
    async with app[sessionmaker_key]() as db:
        bodies = set(await db.scalars(select(Message.body)))
    assert bodies == {"【松陵街道人民调解委员会】您的案件已受理。", "【吴江区人民法院】已送达。"}
