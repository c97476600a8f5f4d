"""The court's flow in Chromium against the real server and its job worker: the clerk opens the
inbox and asks for a supplement, the mediator sends it, the clerk accepts with the court's case
number, the judge confirms; the ruling appears, and the party, on a phone, sees that the
agreement is enforceable and downloads the ruling sealed by the court; the clerk sees it served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from app.settings import settings_key
from documents.sealed import check_seal
from tests.browsers import chromium, log_in, new_page
from tests.builders import filed
from tests.pdf_reading import pdf_text
from tests.people import party_link, seed_ids

NUMBER = "(2026)苏0509民特88号"


async def until_shown(page: Page, url: str, selector: str, within: float = 60) -> None:
    """Reloads until the worker has done its part and the page shows it."""
    for _ in range(int(within / 0.5)):
        await page.goto(url)
        if await page.query_selector(selector):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{selector} did not appear on {url}")


@pytest.mark.browser
async def test_the_court_reviews_rules_and_serves_the_party(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    filing_id = await filed(live_app, demo)
    filing = f"#filing-{filing_id}"
    async with chromium() as browser:
        clerk = await new_page(browser, "clerk")
        mediator = await new_page(browser, "mediator")
        judge = await new_page(browser, "judge")
        party = await new_page(browser, "party", phone=True)
        await log_in(clerk, base, "clerk")
        await clerk.goto(f"{base}/court/inbox")
        await clerk.fill(f"{filing} form.review textarea[name=note]", "请补充双方当事人的身份证明")
        await clerk.click(f"{filing} button[value=supplement]")
        await clerk.wait_for_selector(f"{filing}[data-status=supplement]")
        case_url = await clerk.get_attribute(f"{filing} h2 a", "href")
        assert case_url is not None

        await log_in(mediator, base, "mediator")
        await mediator.goto(f"{base}{case_url}")
        await mediator.fill("form.resubmit textarea[name=note]", "已补充身份证明")
        await mediator.click("#resubmit-filing")
        await mediator.wait_for_selector("#court-result[data-filing-status=filed]")

        await clerk.goto(f"{base}/court/inbox")
        await clerk.fill(f"{filing} form.review input[name=court_case_number]", NUMBER)
        await clerk.click(f"{filing} button[value=accepted]")
        await clerk.wait_for_selector(f"{filing}[data-status=accepted]")

        await log_in(judge, base, "judge")
        await judge.goto(f"{base}/court/inbox")
        await judge.click(f"{filing} button[value=confirmed]")
        await judge.wait_for_selector(f"{filing}[data-status=confirmed]")

        case_id = int(case_url.rsplit("/", 1)[1])
        await party.goto(base + await party_link(live_app, case_id, "applicant"))
        await until_shown(party, f"{base}/cases/{case_id}", "#download-ruling")
        assert await party.is_visible("#enforceable")
        assert NUMBER in await party.inner_text("#court-case-number")
        async with party.expect_download() as waiting:
            await party.click("#download-ruling")
        download = await waiting.value
        pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)

        await clerk.goto(f"{base}/court/inbox")
        served = clerk.locator(f"[data-service='{filing_id}'] [data-served=yes]")
        assert await served.count() == 1  # the applicant opened it; the respondent not yet
    text = pdf_text(pdf).replace("\n", "")
    for needed in ("民事裁定书", NUMBER, "调解协议有效", "申请强制执行"):
        assert needed in text, needed
    check = await check_seal(live_app, pdf)
    assert check.ok() and check.signer and "法院" in check.signer
