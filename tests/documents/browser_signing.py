"""The signing ceremony as a person does it in Chromium: send the code, read the SMS (from the
outbox the job worker delivers to), type it, tick the consent, draw, sign."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from playwright.async_api import Page
from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.models import Message
from tests.browsers import draw_signature

_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def _newest_message_id(app: web.Application) -> int:
    async with app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0)


async def texted_code(app: web.Application, phone: str, after: int, within: float = 20) -> str:
    """The code of the first SMS to `phone` newer than message `after` (polls the outbox)."""
    for _ in range(int(within / 0.2)):
        async with app[sessionmaker_key]() as db:
            bodies = await db.scalars(
                select(Message.body)
                .where(Message.recipient == phone, Message.id > after)
                .order_by(Message.id)
            )
            for body in bodies:
                if "验证码" in body and (match := _CODE.search(body)):
                    return match.group(1)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no code texted to {phone}")


AGREEMENT = "#read-and-sign"
APPLICATION = "#sign-application"  # the joint application for judicial confirmation


async def open_signing(page: Page, base: str, case_id: int, link: str = AGREEMENT) -> None:
    await page.goto(f"{base}/cases/{case_id}")
    await page.click(link)
    await page.wait_for_selector("#signature-pad")
    # The pad's element exists before the stylesheet applies; its width (and the page's) is only
    # final once the page has loaded. Under load the gap was long enough to measure 600 px.
    await page.wait_for_load_state("load")


async def send_code(page: Page, app: web.Application, phone: str) -> str:
    before = await _newest_message_id(app)
    await page.click("#send-code")
    await page.wait_for_selector("#code-sent:not([hidden])")
    return await texted_code(app, phone, before)


async def sign_in_browser(
    page: Page, app: web.Application, base: str, case_id: int, phone: str, link: str = AGREEMENT
) -> None:
    await open_signing(page, base, case_id, link)
    code = await send_code(page, app, phone)
    await page.fill("#sign-code", code)
    await page.check("#consent")
    await draw_signature(page)
    await page.click("#submit-signature")
    await page.wait_for_url(f"{base}/cases/{case_id}*")


async def wait_until_effective(
    page: Page, base: str, case_id: int, within: float = 60, download: str = "#download-pdf"
) -> None:
    """The seal job runs after the last signature; the page shows the download once sealed
    (`#download-application` for the joint application)."""
    for _ in range(int(within / 0.5)):
        await page.goto(f"{base}/cases/{case_id}")
        if await page.query_selector(download):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"not sealed in time ({download})")
