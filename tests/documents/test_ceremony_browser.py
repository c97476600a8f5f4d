"""The whole ceremony in Chromium at a phone's size: code by SMS, consent, drawn signature; and
a wrong code five times locks the code."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Party
from app.settings import settings_key
from documents.models import Signature
from tests.browsers import chromium, draw_signature, log_in, new_page
from tests.builders import drafted, scheduled
from tests.documents.browser_signing import (
    open_signing,
    send_code,
    sign_in_browser,
    wait_until_effective,
)
from tests.documents.signing import MEDIATOR_PHONE
from tests.people import party_link, seed_ids


async def _phone(app: Any, case_id: int, role: str) -> str:
    async with app[sessionmaker_key]() as db:
        phone = await db.scalar(
            select(Party.phone).where(Party.case_id == case_id, Party.role == role)
        )
    assert phone is not None
    return phone


@pytest.mark.browser
async def test_ceremony_on_phones_then_sealed(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    case_id = await scheduled(live_app, demo)
    agreement = await drafted(live_app, demo, case_id)
    async with chromium() as browser:
        for role in ("applicant", "respondent"):
            page = await new_page(browser, role, phone=True)
            await page.goto(base + await party_link(live_app, case_id, role))
            await open_signing(page, base, case_id)
            width = await page.evaluate("document.getElementById('signature-pad').clientWidth")
            assert 200 <= width <= 400  # the pad fits a phone's screen
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0  # the agreement and its full hash fit the screen too
            assert "签署人：" in await page.inner_text("#signing-as")
            assert await page.inner_text("#version-hash") == agreement.version_hash
            await sign_in_browser(
                page, live_app, base, case_id, await _phone(live_app, case_id, role)
            )
        mediator = await new_page(browser, "mediator", phone=True)
        await log_in(mediator, base, "mediator")
        await sign_in_browser(mediator, live_app, base, case_id, MEDIATOR_PHONE)
        await wait_until_effective(mediator, base, case_id)
    async with live_app[sessionmaker_key]() as db:
        signatures = list(
            await db.scalars(select(Signature).where(Signature.agreement_id == agreement.id))
        )
    assert len(signatures) == 3
    assert all(s.evidence["step_up"]["method"] == "sms" for s in signatures)
    assert all("Chrome" in s.evidence["user_agent"] for s in signatures)


@pytest.mark.browser
async def test_five_wrong_codes_lock_in_the_browser(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    demo = await seed_ids(live_app)
    case_id = await scheduled(live_app, demo)
    await drafted(live_app, demo, case_id)
    async with chromium() as browser:
        page = await new_page(browser, "applicant", phone=True)
        await page.goto(base + await party_link(live_app, case_id, "applicant"))
        await open_signing(page, base, case_id)
        code = await send_code(page, live_app, await _phone(live_app, case_id, "applicant"))
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        await page.check("#consent")
        await draw_signature(page)
        for _ in range(5):
            await page.fill("#sign-code", wrong)
            await page.click("#submit-signature")
            await page.wait_for_selector("#sign-error:not([hidden])")
            assert "验证码" in await page.inner_text("#sign-error")
            await page.evaluate("document.getElementById('sign-error').hidden = true")
        await page.fill("#sign-code", code)
        await page.click("#submit-signature")
        await page.wait_for_selector("#sign-error:not([hidden])")
        assert "错误次数过多" in await page.inner_text("#sign-error")
