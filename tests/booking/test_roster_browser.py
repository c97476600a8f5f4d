"""In Chromium at a phone's size: a party finds a mediator who speaks their dialect on the
roster, taps "apply with this mediator", and the application records the choice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.models import Case, CaseEvent
from app.settings import settings_key
from booking.models import AvailabilityRule, BookingProfile
from tests.booking.test_intake_browser import PHONE, next_code
from tests.browsers import PHONE as PHONE_SIZE
from tests.browsers import chromium, new_page
from tests.people import seed_ids


@pytest.mark.browser
async def test_a_party_chooses_a_mediator_from_the_roster(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    mediator = ids["user:mediator2"]  # of the village committee
    async with transaction(live_app) as db:
        db.add(
            BookingProfile(
                staff_id=mediator,
                specialties=["labour"],
                languages=["普通话", "河南话"],
                region="吴江区松陵街道联杨村",
                years=8,
            )
        )
        db.add_all(
            AvailabilityRule(staff_id=mediator, weekday=w, start_minute=540, end_minute=720)
            for w in range(7)
        )
    async with chromium() as browser:
        page = await new_page(browser, "applicant", phone=True)
        await page.goto(f"{base}/roster")
        await page.fill("#f-language", "河南话")
        await page.click(".roster-filters button[type=submit]")
        await page.wait_for_selector(f"#mediator-{mediator}")
        assert await page.locator(".roster-entry").count() == 1
        entry = await page.text_content(f"#mediator-{mediator}") or ""
        assert "河南话" in entry and "最早可约" in entry and "13800000004" not in entry
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        await page.click(f"#choose-{mediator}")
        await page.wait_for_selector("text=刘调解")
        await page.select_option("#f-org_id", str(ids["org:village"]))
        await page.select_option("#f-dispute_type", "labour")
        await page.fill("#f-description", "包工头拖欠我三个月工资共一万二千元，多次催要未果。")
        await page.fill("#f-applicant_name", "赵敏")
        await page.fill("#f-applicant_phone", PHONE)
        await page.fill("#f-respondent_name", "钱军")
        await page.fill("#f-respondent_phone", "13900002222")
        await page.click("#send-code")
        await page.wait_for_selector("#code-notice")
        code, _ = await next_code(live_app, 0)
        await page.fill("#f-phone_code", code)
        await page.click("button.primary.wide")
        await page.wait_for_selector("#receipt")

        # A worker in Germany sees their own time beside Beijing time.
        abroad = await browser.new_context(**PHONE_SIZE, timezone_id="Europe/Berlin")
        berlin = await abroad.new_page()
        await berlin.goto(f"{base}/roster")
        note = await berlin.text_content(f"#mediator-{mediator} .local-time") or ""
        assert "Europe/Berlin" in note and "当地时间" in note
        china = await browser.new_context(**PHONE_SIZE, timezone_id="Asia/Shanghai")
        home = await china.new_page()
        await home.goto(f"{base}/roster")
        await home.wait_for_selector(f"#mediator-{mediator} time")
        assert await home.locator(".local-time").count() == 0  # in China: Beijing time alone
    async with live_app[sessionmaker_key]() as db:
        case = await db.scalar(select(Case).where(Case.description.startswith("包工头")))
        assert case is not None and case.preferred_mediator_id == mediator
        chosen = await db.scalar(
            select(CaseEvent.data).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "mediator_chosen"
            )
        )
        assert chosen == {"staff_id": mediator, "name": "刘调解"}
