"""In Chromium at a phone's size: a party books a duty-clinic place with the SMS code, then
cancels it from the page the SMS link opens."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Message
from app.settings import settings_key
from booking.models import DutyPlace
from tests.booking.clinic_data import duty_session
from tests.booking.setup_data import tomorrow_at
from tests.browsers import chromium, new_page
from tests.people import seed_ids

PHONE = "13900003333"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def texts(app: web.Application, count: int) -> list[str]:
    """The SMS sent to PHONE once there are `count` of them (the worker sends them)."""
    for _ in range(100):
        async with app[sessionmaker_key]() as db:
            bodies = list(
                await db.scalars(
                    select(Message.body).where(Message.recipient == PHONE).order_by(Message.id)
                )
            )
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.1)
    raise AssertionError("no SMS was sent")


@pytest.mark.browser
async def test_book_and_cancel_a_duty_place_on_a_phone(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    session_id = await duty_session(live_app, ids, tomorrow_at(9), capacity=6)
    async with chromium() as browser:
        page = await new_page(browser, "party", phone=True)
        await page.goto(f"{base}/clinic")
        await page.check(f"#session-{session_id}")
        await page.fill("#f-name", "孙八")
        await page.fill("#f-phone", PHONE)
        await page.click("#send-code")
        await page.wait_for_selector("#code-notice")
        found = CODE.search((await texts(live_app, 1))[0])
        assert found is not None
        await page.fill("#f-phone_code", "000000")
        await page.click("#book")
        await page.wait_for_selector("#phone_code-error")  # wrong code: the form again
        await page.fill("#f-phone_code", found.group(1))
        await page.click("#book")
        await page.wait_for_selector("#place-time")
        assert "09:00" in (await page.text_content("#place-time") or "")

        confirmation = (await texts(live_app, 2))[1]
        assert "09:00" in confirmation and "/clinic/p/" in confirmation
        await page.click("#cancel-place")
        await page.wait_for_selector("#cancelled")
    async with live_app[sessionmaker_key]() as db:
        statuses = list(await db.scalars(select(DutyPlace.status)))
    assert statuses == ["cancelled"]
