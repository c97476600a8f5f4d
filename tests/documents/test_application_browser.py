"""The joint application in Chromium at a phone's size: each party signs it with the ceremony
(SMS code, consent, drawn signature), the worker seals it, and only then does the mediator's
filing go through."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key
from app.settings import settings_key
from documents.models import ApplicationSignature, CourtFiling
from tests.browsers import chromium, log_in, new_page
from tests.builders import effective, prepared
from tests.documents.browser_signing import APPLICATION, sign_in_browser, wait_until_effective
from tests.documents.signing import party_phone
from tests.people import party_link, seed_ids


@pytest.mark.browser
async def test_the_parties_sign_the_application_then_the_mediator_files(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    agreement = await effective(live_app, demo)
    case_id = agreement.case_id
    joint = await prepared(live_app, demo, agreement)
    async with chromium() as browser:
        mediator = await new_page(browser, "mediator", phone=True)
        await log_in(mediator, base, "mediator")
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.check("input[name=subject][value=ordinary]")
        await mediator.click("#file-for-confirmation")
        await mediator.wait_for_selector("[data-failed=filing]")  # not signed yet
        for role in ("applicant", "respondent"):
            page = await new_page(browser, role, phone=True)
            await page.goto(base + await party_link(live_app, case_id, role))
            assert await page.query_selector("#filing-closes")
            phone = await party_phone(live_app, case_id, role)
            await sign_in_browser(page, live_app, base, case_id, phone, APPLICATION)
            assert "已签署" in await page.inner_text("#application-signers")
        await wait_until_effective(mediator, base, case_id, download="#download-application")
        assert await mediator.get_attribute("[data-check=signatures]", "data-ok") == "yes"
        await mediator.check("input[name=subject][value=ordinary]")
        await mediator.click("#file-for-confirmation")
        await mediator.wait_for_selector("#court-result[data-filing-status=filed]")
    async with live_app[sessionmaker_key]() as db:
        signatures = list(
            await db.scalars(
                select(ApplicationSignature).where(ApplicationSignature.application_id == joint.id)
            )
        )
        filing = await db.scalar(select(CourtFiling).where(CourtFiling.case_id == case_id))
    assert len(signatures) == 2
    assert all(s.evidence["step_up"]["method"] == "sms" for s in signatures)
    assert filing is not None and filing.application_id == joint.id
