"""Driving headless Chromium (Debian's, with fake camera and microphone) through Playwright."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, Page, async_playwright

from app.demo import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "has_touch": True}

FRAMES = """async () => {
  const out = {};
  for (const [id, pc] of window.mediationRoom.peers) {
    const stats = await pc.getStats();
    let frames = 0;
    stats.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    out[id] = frames;
  }
  return out;
}"""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser, name: str, *, phone: bool = False) -> Page:
    context = await browser.new_context(**(PHONE if phone else {}))  # type: ignore[arg-type]
    page = await context.new_page()
    page.on("pageerror", lambda exc: print(f"[{name}] page error: {exc}"))
    return page


async def log_in(page: Page, base: str, username: str) -> None:
    """Logs in through the real form, as a person would."""
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def frames(page: Page) -> dict[str, int]:
    """Video frames decoded so far, per remote member."""
    result: dict[str, int] = await page.evaluate(FRAMES)
    return result


async def all_decoding(pages: dict[str, Page], within: float) -> dict[str, dict[str, int]]:
    """Waits until every page decodes video from every other page."""
    others = len(pages) - 1
    deadline = time.monotonic() + within
    while True:
        seen = {name: await frames(page) for name, page in pages.items()}
        if all(len(f) == others and all(n > 0 for n in f.values()) for f in seen.values()):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"not every participant decodes video from every other: {seen}")
        await asyncio.sleep(0.1)


async def draw_signature(page: Page, selector: str = "#signature-pad") -> None:
    await page.locator(selector).scroll_into_view_if_needed()
    box = await page.locator(selector).bounding_box()
    assert box is not None
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    for step in range(1, 12):
        await page.mouse.move(x + step * 20, y + (15 if step % 2 else -15))
    await page.mouse.up()
