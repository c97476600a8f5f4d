"""Three headless Chromiums with fake cameras meet in a room: every participant must decode
video from both others. Real server, real sockets, real WebRTC (loopback)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from app.settings import settings_key
from tests.browsers import ARGS, CHROMIUM, all_decoding, chromium, frames, log_in, new_page
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
                assert await pages[name].is_visible("#device-check")  # checked while waiting

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
            for name in ("applicant", "respondent"):
                # The check the lobby opened is closed in the room, and each party's first
                # offer was the one it had ready in the lobby.
                assert await pages[name].is_hidden("#device-check")
                assert await pages[name].evaluate("window.mediationRoom.fromSpare") >= 1
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


# Bytes received from one member over every connection the page has held to it since the first
# call (a connection closed by the page keeps its last counts; a new one is added).
BYTES_FROM = """async (other) => {
  const room = window.mediationRoom;
  window.testConnections = window.testConnections || new Set();
  if (room.peers.has(other)) window.testConnections.add(room.peers.get(other));
  let bytes = 0;
  for (const pc of window.testConnections) {
    const stats = await pc.getStats();
    stats.forEach((r) => { if (r.type === "inbound-rtp") bytes += r.bytesReceived || 0; });
  }
  return bytes;
}"""


async def bytes_from(page: Page, other: int) -> int:
    result: int = await page.evaluate(BYTES_FROM, other)
    return result


async def stops_receiving(page: Page, other: int, within: float) -> float:
    """Seconds until the bytes from `other` stop growing (for a whole second), at most `within`."""
    started = time.monotonic()
    last = await bytes_from(page, other)
    while True:
        await asyncio.sleep(1.0)
        now = await bytes_from(page, other)
        if now == last:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"still receiving from member {other} after {within} s")
        last = now


@pytest.mark.browser
async def test_parties_are_cut_off_when_the_mediator_leaves(live_app: Any) -> None:
    """Mediator and two parties decode each other; the mediator's page closes: the parties see
    the waiting notice and receive nothing more from each other; the mediator comes back and
    they are reconnected; then a knock in the locked room changes the mediator's page title."""
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    await assign_mediator(live_app, case_id, ids["user:mediator"])
    links = {
        role: await party_link(live_app, case_id, role) for role in ("applicant", "respondent")
    }

    async with chromium() as browser:
        med = await new_page(browser, "mediator")
        await log_in(med, base, "mediator")
        await med.goto(f"{base}/cases/{case_id}")
        await enter_room(med)
        room_url = med.url
        parties: dict[str, Page] = {}
        for role, link in links.items():
            page = parties[role] = await new_page(browser, role)
            await page.goto(base + link)
            await page.wait_for_url(f"**/cases/{case_id}")
            await enter_room(page)
            await page.wait_for_selector("#lobby-screen:not([hidden])")
        await med.wait_for_selector("#waiting-list li[data-member] >> nth=1")
        for _ in range(2):
            await med.click("#waiting-list li[data-member] button.admit >> nth=0")
            await asyncio.sleep(0.05)
        await all_decoding({"mediator": med, **parties}, within=30)
        me = {
            role: await page.evaluate("window.mediationRoom.me.id")
            for role, page in parties.items()
        }
        other = {"applicant": me["respondent"], "respondent": me["applicant"]}
        before = {role: await bytes_from(page, other[role]) for role, page in parties.items()}
        await asyncio.sleep(1.0)
        for role, page in parties.items():
            assert await bytes_from(page, other[role]) > before[role], f"{role}: no media yet"

        # The mediator's page closes: within a few seconds the parties receive nothing more
        # from each other, and each is told why it waits.
        await med.close()
        stopped = await asyncio.gather(
            *(stops_receiving(page, other[role], within=8) for role, page in parties.items())
        )
        for page in parties.values():
            await page.wait_for_selector("#lobby-screen:not([hidden])", timeout=5_000)
            assert "调解员已离开" in await page.inner_text("#lobby-text")
            assert await page.evaluate("window.mediationRoom.waitingReason") == "no-host"
            assert await page.evaluate("window.mediationRoom.peers.size") == 0

        # The mediator comes back (same browser, still logged in): everyone decodes everyone.
        med = await med.context.new_page()
        returned_at = time.monotonic()
        await med.goto(room_url)
        await all_decoding({"mediator": med, **parties}, within=30)
        reconnect_after = time.monotonic() - returned_at
        for page in parties.values():
            assert await page.is_hidden("#lobby-screen")

        # The mediator locks the room; a coordinator arriving knocks; the mediator's title says so.
        title = await med.title()
        await med.click("#lock-button")
        await med.wait_for_selector("#room.locked")
        coordinator = await new_page(browser, "coordinator")
        await log_in(coordinator, base, "coordinator")
        await coordinator.goto(f"{base}/cases/{case_id}")
        await enter_room(coordinator)
        await coordinator.wait_for_selector("#lobby-screen:not([hidden])")
        await med.wait_for_function("() => document.title.startsWith('(1) ')", timeout=10_000)
        assert await med.evaluate("window.mediationRoom.knocks") == 1
        # The lock button was a gesture, so the page may play sound: the chime rang.
        assert await med.evaluate("window.mediationRoom.chimes") == 1
        await med.click("#waiting-list li[data-member] button:not(.admit)")
        await med.wait_for_function("(t) => document.title === t", arg=title, timeout=10_000)
        print(
            "\nmediator's page closed → no bytes between the parties (1 s without growth) after: "
            f"{', '.join(f'{s:.1f} s' for s in stopped)}; "
            f"mediator back → all decoding again: {reconnect_after * 1000:.0f} ms"
        )
