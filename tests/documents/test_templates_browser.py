"""In Chromium: the admin edits the termination notice's template; a hostile edit is refused
with the form shown again as typed; a good one is saved as version 1."""

from __future__ import annotations

from typing import Any

import pytest

from app.settings import settings_key
from tests.browsers import chromium, log_in, new_page
from tests.people import seed_ids


@pytest.mark.browser
async def test_admin_edits_a_template_in_the_browser(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    await seed_ids(live_app)
    async with chromium() as browser:
        page = await new_page(browser, "admin")
        await log_in(page, base, "admin")
        await page.goto(f"{base}/admin")
        await page.click("#admin-templates")
        await page.click("#edit-termination")
        body = page.locator("#template-form textarea[name=body]")
        assert "第二十六条" in await body.input_value()  # the built-in wording to start from

        await body.fill("{{ ''.__class__ }}")
        await page.click("#template-form button[type=submit]")
        await page.wait_for_selector("#body-error")
        assert await body.input_value() == "{{ ''.__class__ }}"  # the form comes back as typed

        await body.fill("{{ parties }}：经调解未能达成协议，理由：{{ reason }}。可申请仲裁或起诉。")
        await page.click("#template-form button[type=submit]")
        await page.wait_for_selector("#template-saved")
        assert await page.locator("#template-history li").count() == 1
        assert "{{ reason }}" in await body.input_value()
