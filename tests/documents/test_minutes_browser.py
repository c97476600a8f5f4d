"""In Chromium against the real server and its job worker: the mediator records the minutes
from the case page, and the sealed minutes appear in the case's documents to download."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.settings import settings_key
from documents.sealed import check_seal
from tests.browsers import chromium, log_in, new_page
from tests.builders import scheduled
from tests.pdf_reading import pdf_text
from tests.people import seed_ids


@pytest.mark.browser
async def test_the_mediator_records_minutes_and_downloads_them(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    case_id = await scheduled(live_app, await seed_ids(live_app))
    async with chromium() as browser:
        page = await new_page(browser, "mediator")
        await log_in(page, base, "mediator")
        await page.goto(f"{base}/cases/{case_id}")
        await page.click("#record-minutes")
        await page.fill("input[name=place]", "")
        await page.click("#minutes-form button[type=submit]")
        await page.wait_for_selector("#minutes-form .field-error")  # shown again, with why

        await page.fill("input[name=started_at]", "2026-11-20T14:30")
        await page.fill("input[name=place]", "松陵街道调解室")
        await page.fill("textarea[name=attendees]", "申请人 赵六\n被申请人 钱七")
        await page.fill("textarea[name=record]", "双方确认借款五千元，对利息计算有争议。")
        await page.click("#minutes-form button[type=submit]")
        await page.wait_for_selector("[data-document-kind=minutes]")
        link = page.locator("[data-document-kind=minutes] a[download]")
        for _ in range(60):  # the worker renders and seals it; the page shows it once stored
            if await link.count():
                break
            await page.wait_for_timeout(1000)
            await page.reload()
        async with page.expect_download() as waiting:
            await link.click()
        download = await waiting.value
        pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert "松陵街道调解室" in pdf_text(pdf) and (await check_seal(live_app, pdf)).ok()
