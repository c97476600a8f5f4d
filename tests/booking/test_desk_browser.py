"""The desk in Chromium (desktop size, as staff work): the coordinator registers the demo
application and dispatches it to the village committee; the village mediator accepts it from
"my cases"; the case escalates back to the town; the coordinator's dashboard shows it again."""

from __future__ import annotations

from typing import Any

import pytest

from app.db import sessionmaker_key
from app.labels import label
from app.models import Case
from app.settings import settings_key
from tests.browsers import chromium, log_in, new_page
from tests.people import seed_ids


@pytest.mark.browser
async def test_register_dispatch_accept_escalate(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    async with chromium() as browser:
        coordinator = await new_page(browser, "coordinator")
        mediator = await new_page(browser, "mediator2")

        await log_in(coordinator, base, "coordinator")
        await coordinator.click("a[href='/desk']")
        await coordinator.goto(f"{base}/cases/{case_id}")
        await coordinator.check("form[action$='/register'] input[value=yellow]")
        await coordinator.click("form[action$='/register'] button[type=submit]")
        await coordinator.wait_for_selector("form[action$='/dispatch']")
        await coordinator.select_option("select[name=to_org_id]", str(ids["org:village"]))
        await coordinator.fill("form[action$='/dispatch'] input[name=note]", "就近调解")
        await coordinator.click("form[action$='/dispatch'] button[type=submit]")
        await coordinator.wait_for_selector("[data-status=dispatched]")

        await log_in(mediator, base, "mediator2")
        await mediator.click("a[href='/desk/mine']")
        await mediator.click(f"form[action='/cases/{case_id}/accept'] button")
        await mediator.wait_for_url(f"{base}/cases/{case_id}")
        await mediator.wait_for_selector("[data-status=accepted]")
        await mediator.click("#escalate summary")
        await mediator.fill("#escalate textarea[name=reason]", "涉及两村土地边界，需镇街协调。")
        await mediator.click("#escalate button[type=submit]")
        await mediator.wait_for_url(f"{base}/desk/mine")

        await coordinator.goto(f"{base}/desk?status=registered")
        row = coordinator.locator(f"tr[data-case='{case_id}']")
        assert "吴松" in (await row.inner_text())
        await coordinator.goto(f"{base}/cases/{case_id}")
        timeline = await coordinator.inner_text("ol.timeline")
    async with live_app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None
    assert (case.status, case.org_id, case.mediator_id, case.risk) == (
        "registered",
        ids["org:town"],
        None,
        "yellow",
    )
    for kind in ("registered", "dispatched", "dispatch_accepted", "escalated"):
        assert label("event", kind, "zh_CN") in timeline, (kind, timeline)
