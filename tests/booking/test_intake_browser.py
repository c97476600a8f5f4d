"""In Chromium at a phone's size: apply with the SMS code, add evidence while a progress bar
fills, then look the case up by its receipt number."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Message
from app.settings import settings_key
from booking.models import Evidence
from tests.browsers import chromium, new_page
from tests.people import seed_ids

PHONE = "13900001111"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def next_code(app: web.Application, seen: int) -> tuple[str, int]:
    """The first code texted to PHONE after the `seen` ones (the worker sends them)."""
    for _ in range(100):
        async with app[sessionmaker_key]() as db:
            bodies = list(
                await db.scalars(
                    select(Message.body).where(Message.recipient == PHONE).order_by(Message.id)
                )
            )
        codes = [m.group(1) for body in bodies if "http" not in body and (m := CODE.search(body))]
        if len(codes) > seen:
            return codes[seen], seen + 1
        await asyncio.sleep(0.1)
    raise AssertionError("no code was texted")


PROGRESS_DONE = """() => {
  const form = document.querySelector("form[data-evidence-upload]");
  return form && form.dataset.uploaded === "true" && form.querySelector("progress").value === 100
    && !form.querySelector("progress").hidden;
}"""


@pytest.mark.browser
async def test_apply_upload_and_look_up_on_a_phone(live_app: Any, tmp_path: Path) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    scan = tmp_path / "欠条.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + b"0" * 1_500_000)
    async with chromium() as browser:
        page = await new_page(browser, "applicant", phone=True)
        await page.goto(f"{base}/apply")
        await page.select_option("#f-org_id", str(ids["org:village"]))
        await page.select_option("#f-dispute_type", "labour")
        await page.fill("#f-description", "包工头拖欠我三个月工资共一万二千元，多次催要未果。")
        await page.fill("#f-applicant_name", "赵敏")
        await page.fill("#f-applicant_phone", PHONE)
        await page.fill("#f-respondent_name", "钱军")
        await page.fill("#f-respondent_phone", "13900002222")
        await page.click("#send-code")
        await page.wait_for_selector("#code-notice")
        code, seen = await next_code(live_app, 0)
        await page.fill("#f-phone_code", code)
        await page.click("button.primary.wide")
        receipt = (await page.text_content("#receipt") or "").strip()
        assert re.fullmatch(r"R[A-Z2-7]{10}", receipt)

        await page.click("#add-evidence")
        await page.wait_for_selector("form[data-evidence-upload]")
        await page.set_input_files("#f-evidence-file", str(scan))
        await page.click("form[data-evidence-upload] button[type=submit]")
        await page.wait_for_function(PROGRESS_DONE, timeout=15_000)
        await page.wait_for_selector("text=欠条.pdf")  # the page reloads with the file listed
        async with live_app[sessionmaker_key]() as db:
            stored = list(await db.scalars(select(Evidence)))
        assert [(e.filename, e.size) for e in stored] == [("欠条.pdf", scan.stat().st_size)]

        await page.goto(f"{base}/lookup")
        await page.fill("#f-reference", receipt.lower())
        await page.fill("#f-phone", PHONE)
        await page.click("#send-code")
        await page.wait_for_selector("#code-notice")
        code, seen = await next_code(live_app, seen)
        await page.fill("#f-code", code)
        await page.click("button.primary.wide")
        await page.wait_for_selector("#progress")
        text = await page.text_content("#progress") or ""
        assert "已申请" in text and receipt in text
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
