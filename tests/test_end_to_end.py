"""One case from registration to the court's ruling, in real browsers against the real server:
a coordinator books, the mediator and two parties meet on video, everyone signs, the sealed PDF
downloads, the mediator files it, the clerk confirms, and the party's page shows the result."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import Party
from app.settings import ROOT, Settings, settings_key
from booking.demo import seed_availability
from documents.sealed import check_seal
from tests.browsers import all_decoding, chromium, frames, log_in, new_page
from tests.documents.browser_signing import (
    AGREEMENT,
    APPLICATION,
    sign_in_browser,
    wait_until_effective,
)
from tests.documents.signing import MEDIATOR_PHONE
from tests.pdf_reading import pdf_text, poppler
from tests.people import seed_ids

TERMS = ["李建国于2026年12月31日前向王秀兰支付院墙重建费用人民币捌仟元整", "双方共用通道保持畅通"]


async def sign_agreement(
    page: Page, app: Any, base: str, case_id: int, role: str, link: str = AGREEMENT
) -> None:
    """The ceremony (documents' helper): SMS code to the phone on record, consent, signature;
    for the agreement or (`link` APPLICATION) the joint application."""
    if role == "mediator":
        phone = MEDIATOR_PHONE
    else:
        async with app[sessionmaker_key]() as db:
            party = await db.scalar(
                select(Party).where(Party.case_id == case_id, Party.role == role)
            )
            assert party is not None
            phone = party.phone
    await sign_in_browser(page, app, base, case_id, phone, link)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The first free slot may be days away; this walk-through meets at once, so the centre here
    # opens rooms a fortnight ahead (tests/rooms/test_opening.py covers the waiting).
    return replace(settings, room_opens_minutes_before=14 * 24 * 60)


@pytest.mark.browser
async def test_application_to_court_ruling(live_app: Any, tmp_path: Path) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    await seed_availability(live_app)  # as `make run` does
    case_id = ids["case"]
    async with chromium() as browser:
        coordinator = await new_page(browser, "coordinator")
        mediator = await new_page(browser, "mediator")
        applicant = await new_page(browser, "applicant", phone=True)
        respondent = await new_page(browser, "respondent", phone=True)
        clerk = await new_page(browser, "clerk")
        judge = await new_page(browser, "judge")

        # Registration (受理) and booking by the coordinator.
        await log_in(coordinator, base, "coordinator")
        await coordinator.goto(f"{base}/cases/{case_id}")
        await coordinator.check("form[action$='/register'] input[value=blue]")
        await coordinator.click("form[action$='/register'] button[type=submit]")
        await coordinator.select_option("#p-mediator", str(ids["user:mediator"]))
        await coordinator.click("form[action$='/book'] button[type=submit]")
        await coordinator.click("button.slot >> nth=0")
        await coordinator.wait_for_load_state()
        # The booking's links go out by SMS from the outbox; to hand them over at the desk the
        # coordinator sends new ones, shown as text and QR codes.
        await coordinator.goto(f"{base}/cases/{case_id}/invitations")
        coordinator.once("dialog", lambda dialog: dialog.accept())
        await coordinator.click("form:not(.inline)[action$='/invitations'] button[type=submit]")
        await coordinator.wait_for_selector("input.link-text")
        links = [
            await field.input_value()
            for field in await coordinator.query_selector_all("input.link-text")
        ]
        assert len(links) == 2 and all("/p/" in link for link in links)

        # The meeting: the mediator opens the room, the parties follow their links to the lobby.
        await log_in(mediator, base, "mediator")
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.click("[data-action=enter-room]")
        for page, link in zip((applicant, respondent), links, strict=True):
            await page.goto(link)
            await page.wait_for_url(f"{base}/cases/{case_id}")
            await page.click("[data-action=enter-room]")
            await page.wait_for_selector("#lobby-screen:not([hidden])")
        await mediator.wait_for_selector("#waiting-list li[data-member] >> nth=1")
        for _ in range(2):
            await mediator.click("#waiting-list li[data-member] button.admit >> nth=0")
            await asyncio.sleep(0.05)
        room = {"mediator": mediator, "applicant": applicant, "respondent": respondent}
        first = await all_decoding(room, within=30)
        await asyncio.sleep(1.0)
        for name, page in room.items():
            later = await frames(page)
            assert all(later[peer] > n for peer, n in first[name].items()), f"{name}: frozen"

        # The agreement: drafted by the mediator, signed on each party's phone and by the mediator.
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.click("#draft-agreement")
        await mediator.fill(
            "textarea[name=facts]", "被申请人装修时拆除双方共用院墙，申请人要求赔偿重建费用。"
        )
        await mediator.fill("textarea[name=terms]", "\n".join(TERMS))
        await mediator.fill("input[name=performance]", "银行转账")
        await mediator.fill(
            "input[name=performance_deadline]", (date.today() + timedelta(days=40)).isoformat()
        )
        await mediator.click("form[action$='/agreement'] button[type=submit]")
        await mediator.wait_for_url(f"{base}/cases/{case_id}*")
        for page, role in (
            (applicant, "applicant"),
            (respondent, "respondent"),
            (mediator, "mediator"),
        ):
            await sign_agreement(page, live_app, base, case_id, role)
        await wait_until_effective(applicant, base, case_id)  # the committee's seal, by the worker

        # The sealed PDF, downloaded by a party and read back.
        await applicant.goto(f"{base}/cases/{case_id}")
        async with applicant.expect_download() as download_info:
            await applicant.click("#download-pdf")
        download = await download_info.value
        pdf_path = tmp_path / "agreement.pdf"
        await download.save_as(pdf_path)
        pdf = pdf_path.read_bytes()
        text = pdf_text(pdf)
        for needle in ("王秀兰", "李建国", "人民调解协议书", "院墙重建费用", "共用通道保持畅通"):
            assert needle in text, needle
        assert (await check_seal(live_app, pdf)).ok()
        assert "Signature Field Name" in poppler("pdfsig", str(pdf_path))

        # The joint application: prepared by the mediator for the basic court, signed by each
        # party with the same ceremony, sealed by the worker.
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.click("#prepare-application")
        await mediator.wait_for_selector("[data-application-status=signing]")
        for page, role in ((applicant, "applicant"), (respondent, "respondent")):
            await sign_agreement(page, live_app, base, case_id, role, APPLICATION)
        await wait_until_effective(mediator, base, case_id, download="#download-application")

        # The court lane: filed by the mediator, accepted by the clerk (who first asks for a
        # supplement, which the mediator sends), confirmed by the judge, seen by the party.
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.check("input[name=subject][value=ordinary]")
        await mediator.click("#file-for-confirmation")
        await mediator.wait_for_selector("#court-result[data-filing-status=filed]")
        await log_in(clerk, base, "clerk")
        await clerk.goto(f"{base}/court/inbox")
        await clerk.click("button[value=supplement]")  # without saying what: refused, kept
        await clerk.wait_for_selector("[data-failed=review] [data-field=note]")
        await clerk.fill("form.review textarea[name=note]", "请补充双方当事人的身份证明")
        await clerk.click("button[value=supplement]")
        await clerk.wait_for_selector("[data-status=supplement]")
        await mediator.goto(f"{base}/cases/{case_id}")
        await mediator.fill("form.resubmit textarea[name=note]", "已补充身份证明")
        await mediator.click("#resubmit-filing")
        await mediator.wait_for_selector("#court-result[data-filing-status=filed]")
        await clerk.goto(f"{base}/court/inbox")
        await clerk.fill("form.review input[name=court_case_number]", "(2026)苏0509民特1号")
        await clerk.click("button[value=accepted]")
        await clerk.wait_for_selector("[data-status=accepted]")
        await applicant.goto(f"{base}/cases/{case_id}")
        await applicant.wait_for_selector("#ruling-due")
        await log_in(judge, base, "judge")
        await judge.goto(f"{base}/court/inbox")
        await judge.click("button[value=confirmed]")
        await judge.wait_for_selector("[data-status=confirmed]")
        await applicant.goto(f"{base}/cases/{case_id}")
        await applicant.wait_for_selector("#court-result[data-filing-status=confirmed]")
        if os.environ.get("MEDIATION_SCREENSHOT"):
            await applicant.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
