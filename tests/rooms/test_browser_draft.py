"""Review in the room (issue 9): everyone in the room reads the current draft — a structured
term with its amount in words, payer and payee —; a party asks for a change on a clause and the
mediator sees it; a revision by the mediator reaches the parties' panels by itself."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.lifecycle import CaseStatus, advance
from app.models import Case, Party
from documents import services
from documents.models import ChangeRequest
from tests.booking.setup_data import register_case
from tests.builders import draft_form, staff
from tests.people import seed_ids
from tests.rooms.conftest import assign_mediator
from tests.rooms.test_browser_meeting import meeting


async def draft_version(app: Any, demo: dict[str, int], case_id: int, payment: str) -> None:
    async with app[sessionmaker_key]() as db:
        status = await db.scalar(select(Case.status).where(Case.id == case_id))
    if status == CaseStatus.APPLIED:
        await register_case(app, case_id, demo["user:coordinator"])
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        if case.status not in (CaseStatus.SCHEDULED, CaseStatus.AGREEMENT):
            await advance(db, case, CaseStatus.SCHEDULED, "staff:test")
        parties = {
            p.role: p.id for p in await db.scalars(select(Party).where(Party.case_id == case_id))
        }
        form = draft_form(
            **{
                "term-0-text": "李建国向王秀兰支付院墙重建费用",
                "term-0-amount": payment,
                "term-0-payer": str(parties["respondent"]),
                "term-0-payee": str(parties["applicant"]),
            }
        )
        mediator = staff(demo, "mediator", "mediator", "town")
        await services.do_draft(db, mediator, case, services.check_draft(form))


@pytest.mark.browser
async def test_the_room_shows_the_draft_and_takes_a_request_for_change(live_app: Any) -> None:
    from tests.browsers import chromium

    demo = await seed_ids(live_app)
    case_id = demo["case"]
    await assign_mediator(live_app, case_id, demo["user:mediator"])
    await draft_version(live_app, demo, case_id, "8000")
    async with chromium() as browser:
        pages = await meeting(browser, live_app)
        applicant, mediator = pages["applicant"], pages["mediator"]
        await applicant.click("#draft-button")
        first = applicant.locator('#draft-terms li[data-clause="1"]')
        await first.wait_for()
        text = await first.inner_text()
        assert "李建国向王秀兰支付院墙重建费用" in text
        assert "捌仟元整" in text and "李建国" in text and "王秀兰" in text, text

        await first.locator("summary").click()
        await first.locator("textarea").fill("请改为分两期支付")
        await first.locator("button[type=submit]").click()
        await applicant.wait_for_function("() => !document.getElementById('room-notice').hidden")
        async with live_app[sessionmaker_key]() as db:
            asked = list(await db.scalars(select(ChangeRequest)))
        assert [(r.clause, r.text) for r in asked] == [(1, "请改为分两期支付")]

        await mediator.click("#draft-button")
        await mediator.wait_for_selector("#draft-requests li", timeout=15_000)
        assert "请改为分两期支付" in await mediator.inner_text("#draft-requests")
        assert (
            await applicant.locator("#draft-requests li").count() == 0
        )  # requests: the mediator's

        # The mediator revises: the parties' open panels follow without a reload.
        await draft_version(live_app, demo, case_id, "6000")
        await applicant.wait_for_selector("#draft-panel[data-version='2']", timeout=15_000)
        assert "陆仟元整" in await applicant.inner_text('#draft-terms li[data-clause="1"]')
