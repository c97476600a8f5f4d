"""Three headless Chromiums with fake cameras meet in a room: every participant must decode
video from both others. Real server, real sockets, real WebRTC (loopback)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from app.settings import settings_key
from tests.browsers import ARGS, CHROMIUM, all_decoding, frames, log_in
from tests.people import party_link, seed_ids
from tests.rooms.conftest import assign_mediator


async def enter_room(page: Page) -> None:
    await page.click("[data-action=enter-room]")
    await page.wait_for_url("**/rooms/*")


@pytest.mark.browser
async def test_three_participants_see_each_other(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    await assign_mediator(live_app, case_id, ids["user:mediator"])
    links = [await party_link(live_app, case_id, role) for role in ("applicant", "respondent")]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pages: dict[str, Page] = {}
            for name in ("mediator", "applicant", "respondent"):
                context = await browser.new_context()
                pages[name] = await context.new_page()
                pages[name].on("pageerror", lambda exc, n=name: print(f"[{n}] pageerror {exc}"))
            med = pages["mediator"]
            await log_in(med, base, "mediator")
            await med.goto(f"{base}/cases/{case_id}")
            await enter_room(med)
            for name, link in zip(("applicant", "respondent"), links, strict=True):
                await pages[name].goto(base + link)
                await pages[name].wait_for_url(f"**/cases/{case_id}")
                await enter_room(pages[name])
                await pages[name].wait_for_selector("#lobby-screen:not([hidden])")

            await med.wait_for_selector("#waiting-list li[data-member] >> nth=1")
            started = time.monotonic()
            for _ in range(2):
                await med.click("#waiting-list li[data-member] button.admit >> nth=0")
                await asyncio.sleep(0.05)
            first = await all_decoding(pages, within=30)
            connect_to_frames = time.monotonic() - started
            await asyncio.sleep(1.0)
            later = {name: await frames(page) for name, page in pages.items()}
            for name in pages:
                for peer, count in first[name].items():
                    assert later[name][peer] > count, f"{name}: video from {peer} is frozen"
            for page in pages.values():
                assert await page.is_hidden("#lobby-screen")
            timings = {
                name: await page.evaluate("Object.fromEntries(window.mediationRoom.firstFrame)")
                for name, page in pages.items()
            }
            print(
                "\nadmit → every participant decoding both others: "
                f"{connect_to_frames * 1000:.0f} ms"
            )
            print(f"per-peer connection start → first frame (ms): {timings}")
        finally:
            await browser.close()
