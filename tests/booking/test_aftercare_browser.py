"""In Chromium against the real server: the mediator records the outcome, closes the case and
records the follow-up visit; a party opens their link on a phone and rates the handling once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key
from app.settings import settings_key
from booking.models import Rating
from tests.browsers import chromium, log_in, new_page
from tests.builders import scheduled
from tests.people import party_link, seed_ids


@pytest.mark.browser
async def test_staff_record_outcome_close_and_follow_up(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = await scheduled(live_app, ids)
    async with chromium() as browser:
        page = await new_page(browser, "mediator")
        await log_in(page, base, "mediator")
        await page.goto(f"{base}/cases/{case_id}")
        await page.check("#outcome-form input[value=oral_agreement]")
        await page.fill("#f-note", "李建国于本月底前赔偿院墙修复费2000元。")
        await page.click("#outcome-form button[type=submit]")
        await page.wait_for_selector("[data-outcome=oral_agreement]")
        await page.click("#close-form button[type=submit]")
        await page.wait_for_selector("[data-followup=due]")
        assert await page.locator(".badge[data-status=closed]").count() == 1
        await page.select_option("#f-method", "visit")
        await page.select_option("#f-result", "resolved")
        await page.fill("#f-fnote", "双方已履行，邻里和睦。")
        await page.click("#followup-form button[type=submit]")
        await page.wait_for_selector("[data-followup=recorded]")
        assert await page.locator("#outcome-form").count() == 0  # read-only now


@pytest.mark.browser
async def test_a_party_rates_on_a_phone_once(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = await scheduled(live_app, ids)
    async with chromium() as browser:
        mediator = await new_page(browser, "mediator")
        await log_in(mediator, base, "mediator")
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.check("#outcome-form input[value=withdrawn]")
        await mediator.click("#outcome-form button[type=submit]")
        await mediator.click("#close-form button[type=submit]")
        await mediator.wait_for_selector("[data-followup=due]")

        phone = await new_page(browser, "applicant", phone=True)
        await phone.goto(f"{base}{await party_link(live_app, case_id)}")
        await phone.wait_for_selector("#rating-form")
        for name, stars in (("attitude", 5), ("procedure", 4), ("result", 4)):
            await phone.check(f"#rating-form input[name={name}][value='{stars}']")
        await phone.fill("#f-comment", "调解员耐心细致")
        # Fits the phone's width: no sideways scrolling to reach the button.
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
        await phone.click("#rating-form button[type=submit]")
        await phone.wait_for_selector("[data-rated=yes]")
        assert await phone.locator("#rating-form").count() == 0
    async with live_app[sessionmaker_key]() as db:
        ratings = list(await db.scalars(select(Rating).where(Rating.case_id == case_id)))
    assert [(r.attitude, r.procedure, r.result, r.comment) for r in ratings] == [
        (5, 4, 4, "调解员耐心细致")
    ]
