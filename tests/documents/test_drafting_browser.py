"""Drafting in Chromium (desktop, the mediator's screen): a structured term typed into the form
appears in the live preview, amount and 大写 included, and nothing is saved until save."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.settings import settings_key
from documents.models import Agreement
from tests.browsers import chromium, log_in, new_page
from tests.builders import scheduled
from tests.people import seed_ids


async def _versions(app: Any, case_id: int) -> int:
    async with app[sessionmaker_key]() as db:
        count = await db.scalar(
            select(func.count()).select_from(Agreement).where(Agreement.case_id == case_id)
        )
    return int(count or 0)


@pytest.mark.browser
async def test_the_preview_follows_the_mediators_typing(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    case_id = await scheduled(live_app, await seed_ids(live_app))
    async with chromium() as browser:
        page = await new_page(browser, "mediator")
        await log_in(page, base, "mediator")
        await page.goto(f"{base}/cases/{case_id}/agreement")
        await page.fill("textarea[name=facts]", "被申请人装修时拆除双方共用院墙，申请人要求赔偿。")
        await page.fill("textarea[name=term-0-text]", "李建国向王秀兰支付院墙重建费用")
        await page.type("input[name=term-0-amount]", "8000.5")
        await page.select_option("select[name=term-0-payer]", index=2)
        await page.select_option("select[name=term-0-payee]", index=1)
        await page.locator("#preview", has_text="捌仟元伍角整").wait_for(timeout=15_000)
        preview = await page.inner_text("#preview")
        assert "李建国向王秀兰支付院墙重建费用" in preview
        assert "人民币8,000.50元" in preview and "付款方" in preview
        await page.fill("input[name=term-0-amount]", "9000")
        await page.locator("#preview", has_text="玖仟元整").wait_for(timeout=15_000)
        rows = await page.locator(".term-row").count()
        await page.click("#add-term")  # a new row without a round trip
        await page.fill(f"textarea[name=term-{rows}-text]", "双方今后和睦相处，互不追究")
        await page.locator("#preview", has_text="双方今后和睦相处，互不追究").wait_for(
            timeout=15_000
        )
        assert await _versions(live_app, case_id) == 0  # previews store nothing
        await page.fill("input[name=performance]", "银行转账")
        await page.fill("input[name=performance_deadline]", "2099-12-31")
        async with page.expect_navigation():
            await page.click("#draft-form button[type=submit]")
        assert page.url.endswith(f"/cases/{case_id}#agreement"), page.url
    assert await _versions(live_app, case_id) == 1
    async with live_app[sessionmaker_key]() as db:
        agreement = await db.scalar(select(Agreement).where(Agreement.case_id == case_id))
    assert agreement is not None
    assert agreement.content["terms"][-1] == "双方今后和睦相处，互不追究"
    assert agreement.content["term_details"][0]["amount"] == "9000.00"


@pytest.mark.browser
async def test_a_party_compares_versions_on_a_phone(live_app: Any) -> None:
    from app.db import transaction
    from app.models import Case
    from documents import services
    from tests.builders import draft_form, staff
    from tests.people import party_link

    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    case_id = await scheduled(live_app, demo)
    mediator = staff(demo, "mediator", "mediator", "town")
    long_term = "李建国于2026年12月31日前支付王秀兰院墙重建费用人民币八千元，" * 4
    for terms in ("双方共用通道保持畅通", f"{long_term}\n双方共用通道保持畅通\n双方互不追究"):
        async with transaction(live_app) as db:
            case = await db.get(Case, case_id)
            assert case is not None
            await services.do_draft(
                db, mediator, case, services.check_draft(draft_form(terms=terms))
            )
    async with chromium() as browser:
        page = await new_page(browser, "applicant", phone=True)
        await page.goto(base + await party_link(live_app, case_id, "applicant"))
        await page.goto(f"{base}/cases/{case_id}/agreement/versions")
        cards = page.locator("#changes .changes li")
        assert await cards.count() == 2  # the long term and the last one were added
        assert "双方互不追究" in await page.inner_text("#changes")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # readable on a phone: nothing wider than the screen
