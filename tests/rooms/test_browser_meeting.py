"""A mediation as people hold it, in three headless Chromiums with fake devices against the real
server: controls seen on the others' tiles, the mediator's requests, a caucus proven by bytes,
chat privacy per sub-room, calling the mediator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from app.settings import settings_key
from tests.browsers import all_decoding, chromium, log_in, new_page
from tests.people import party_link, seed_ids
from tests.rooms.conftest import assign_mediator
from tests.rooms.test_browser import bytes_from, enter_room, stops_receiving

PARTIES = ("applicant", "respondent")
OPENS = "window.mediationRoom.room.conn.opens"
# What a page knows, printed when a test fails.
STATE = """() => {
  const m = window.mediationRoom;
  return { me: m.me, opens: m.room.conn.opens, ended: m.room.store.state.ended,
           waiting: m.waitingReason, members: [...m.members.keys()], peers: [...m.peers.keys()],
           status: document.getElementById("room-status").textContent,
           notice: document.getElementById("room-notice").textContent };
}"""


async def meeting(
    browser: Browser, app: Any, *, phone: bool = False, audio_only: str = ""
) -> dict[str, Page]:
    """The mediator in the room and both parties admitted (`audio_only`: that party chose
    audio only before joining)."""
    base = app[settings_key].base_url
    ids = await seed_ids(app)
    case_id = ids["case"]
    await assign_mediator(app, case_id, ids["user:mediator"])
    med = await new_page(browser, "mediator")
    await log_in(med, base, "mediator")
    await med.goto(f"{base}/cases/{case_id}")
    await enter_room(med)
    pages = {"mediator": med}
    for role in PARTIES:
        page = pages[role] = await new_page(browser, role, phone=phone)
        if role == audio_only:  # chosen before joining (the device check keeps the choice)
            await page.context.add_init_script(
                "localStorage.setItem('mediation-room.audio-only', '1')"
            )
        await page.goto(base + await party_link(app, case_id, role))
        await page.wait_for_url(f"**/cases/{case_id}")
        await enter_room(page)
        await page.wait_for_selector("#lobby-screen:not([hidden])")
    await med.wait_for_selector("#admit-all:not([hidden])")
    await med.click("#admit-all")
    return pages


async def decoding(page: Page, members: list[int], within: float = 40) -> None:
    """Waits until the page decodes video from each of these members."""
    await page.wait_for_function(
        """async (ids) => {
          const room = window.mediationRoom;
          for (const id of ids) {
            const pc = room.peers.get(id);
            if (!pc) return false;
            let frames = 0;
            (await pc.getStats()).forEach((r) => {
              if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
            });
            if (!frames) return false;
          }
          return true;
        }""",
        arg=members,
        timeout=within * 1000,
        polling=200,
    )


async def everyone_decoding(pages: dict[str, Page], within: float) -> None:
    try:
        await all_decoding(pages, within=within)
    except AssertionError:
        for name, page in pages.items():
            print(name, await page.evaluate(STATE))
        raise


async def member_id(page: Page) -> int:
    result: int = await page.evaluate("window.mediationRoom.me.id")
    return result


def tile(member: int) -> str:
    return f'#stage .tile[data-member="{member}"]'


async def chat(page: Page, text: str) -> None:
    if await page.is_hidden("#chat-panel"):
        await page.click("#chat-button")
    await page.fill("#chat-text", text)
    await page.press("#chat-text", "Enter")


@pytest.mark.browser
async def test_controls_caucus_chat_and_calls(live_app: Any) -> None:
    async with chromium() as browser:
        pages = await meeting(browser, live_app)
        await everyone_decoding(pages, within=40)
        med, app_, resp = pages["mediator"], pages["applicant"], pages["respondent"]
        a, r = await member_id(app_), await member_id(resp)

        # ICE trouble between the parties: only that pair's connection is rebuilt (the applicant
        # offers anew, the respondent sees a new SDP origin); the mediator's are untouched.
        keep = "window.kept = new Map(window.mediationRoom.peers)"
        same = "(id) => window.kept.get(id) === window.mediationRoom.peers.get(id)"
        await med.evaluate(keep)
        await resp.evaluate(keep)
        await app_.evaluate("(id) => window.mediationRoom.room.mesh.rebuild(id)", r)
        await resp.wait_for_function(f"() => !({same})({a})")
        await decoding(resp, [a])
        await decoding(app_, [r])
        assert await med.evaluate(same, a) and await med.evaluate(same, r)
        assert await resp.evaluate(same, await member_id(med))

        # Controls (by keyboard here): what a party does shows on the mediator's tile of it,
        # and screen readers hear it.
        await app_.focus("#mic-button")
        await app_.keyboard.press("Enter")
        await med.wait_for_selector(f"{tile(a)} .mic-off")
        assert await app_.get_attribute("#mic-button", "aria-pressed") == "true"
        await app_.wait_for_function(
            "() => document.getElementById('announcer').textContent === '麦克风已关闭'"
        )
        await app_.click("#mic-button")
        await med.wait_for_selector(f"{tile(a)} .mic-off", state="detached")
        await app_.click("#camera-button")
        await med.wait_for_selector(f"{tile(a)}.no-video .avatar")
        await app_.click("#camera-button")
        await med.wait_for_selector(f"{tile(a)}:not(.no-video)", timeout=15_000)
        await resp.click("#hand-button")
        await med.wait_for_selector(f"{tile(r)} .hand")

        # The mediator asks the applicant to mute (it agrees) and mutes the respondent.
        await med.click(f"{tile(a)} .ask-mute")
        await app_.click("#room-notice .asked-yes")
        await med.wait_for_selector(f"{tile(a)} .mic-off")
        await med.click(f"{tile(r)} .mute-member")
        await resp.wait_for_selector("#mic-button[aria-pressed=true]")
        await med.wait_for_selector(f"{tile(r)} .mic-off")
        await resp.click("#mic-button")  # a party can always unmute itself
        await med.wait_for_selector(f"{tile(r)} .mic-off", state="detached")

        # Caucus: one click takes the applicant into a private room with the mediator. The
        # respondent, alone in the joint session, receives nothing more from either.
        await bytes_from(resp, a)
        await med.click(f"{tile(a)} .to-private")
        await app_.wait_for_selector("#where-banner.private:not([hidden])")
        assert "陈调解" in await app_.inner_text("#where-banner")
        stopped = await asyncio.gather(
            stops_receiving(resp, a, within=8), stops_receiving(app_, r, within=8)
        )
        await resp.wait_for_selector("#lobby-screen:not([hidden])")
        assert await resp.evaluate("window.mediationRoom.peers.size") == 0

        # Chat in the caucus reaches the mediator, not the respondent.
        await chat(app_, "只对调解员说的话")
        await med.click("#chat-button")
        await med.wait_for_selector("#chat-log li:has-text('只对调解员说的话')")
        # The respondent calls the mediator, who hears and sees it in the other sub-room.
        title = await med.title()
        await resp.click("#call-host-button")
        await med.wait_for_function("() => window.mediationRoom.calls === 1")
        assert await med.title() != title and "📞" in await med.title()
        # The mediator's clicks were gestures, so the page may play sound: the chime rang.
        await med.wait_for_function("() => window.mediationRoom.callChimes === 1")

        # Back to the joint session with one click: everyone decodes everyone again.
        await med.click(f"{tile(a)} .to-main")
        await everyone_decoding(pages, within=30)
        await app_.wait_for_selector("#where-banner:not(.private):not([hidden])")
        await chat(resp, "大家好")
        for page in pages.values():
            await page.wait_for_selector("#chat-log li:has-text('大家好')")
        assert "只对调解员说的话" not in await resp.inner_text("#chat-log")
        print(f"\ncaucus: bytes to the excluded party stopped after {stopped[0]:.1f} s")


@pytest.mark.browser
async def test_audio_only_on_a_phone(live_app: Any) -> None:
    """Parties on phones, one of them audio only from the start: the others see its avatar and
    "仅语音"; the other side fills the phone's screen and one's own view is small; every
    control is at least 44 px and named."""
    async with chromium() as browser:
        pages = await meeting(browser, live_app, phone=True, audio_only="applicant")
        med, phone, other = pages["mediator"], pages["applicant"], pages["respondent"]
        m, a, r = await member_id(med), await member_id(phone), await member_id(other)
        await decoding(phone, [m, r])
        await decoding(other, [m])
        await med.wait_for_selector(f"{tile(a)}.no-video .voice-only:has-text('仅语音')")
        assert await med.is_visible(f"{tile(a)} .avatar")
        assert await phone.evaluate("window.mediationRoom.room.media.video") is None

        viewport = phone.viewport_size
        assert viewport is not None
        own = await phone.locator("#stage .tile.local").bounding_box()
        other = await phone.locator("#stage .tile:not(.local)").first.bounding_box()
        assert own and other
        assert other["width"] * other["height"] > 4 * own["width"] * own["height"]
        assert other["y"] < viewport["height"] / 2, "the other side is below the fold"
        for button in await phone.locator("#controls button:visible").all():
            box = await button.bounding_box()
            assert box and box["height"] >= 44 and box["width"] >= 44
            assert (await button.inner_text()).strip() or await button.get_attribute("aria-label")
        # Video on again at any time.
        await phone.click("#audio-only-button")
        await med.wait_for_selector(f"{tile(a)}:not(.no-video)", timeout=15_000)


@pytest.mark.browser
async def test_recording_needs_everyones_consent_and_the_mediator_ends_the_session(
    live_app: Any,
) -> None:
    async with chromium() as browser:
        pages = await meeting(browser, live_app)
        await everyone_decoding(pages, within=40)
        med = pages["mediator"]
        parties = [pages[role] for role in PARTIES]

        # Not everyone agreed: the mediator is told so, nothing is recorded.
        await med.check("#consent-box")
        await parties[0].check("#consent-box")
        await med.click("#record-button")
        await med.wait_for_selector("#room-notice:has-text('并非所有人都同意')")
        assert await med.is_hidden("#recording-indicator")

        # Everyone agreed: everyone sees the indicator.
        await parties[1].check("#consent-box")
        await med.wait_for_function(
            "() => [...window.mediationRoom.members.values()].every((m) => m.consent)"
        )
        await med.click("#record-button")
        for page in pages.values():
            await page.wait_for_selector("#recording-indicator:not([hidden])")
        assert await med.get_attribute("#record-button", "aria-pressed") == "true"

        # One party withdraws its consent: the recording stops for everyone.
        await parties[1].uncheck("#consent-box")
        for page in pages.values():
            await page.wait_for_selector("#recording-indicator", state="hidden")

        # The mediator ends the session: everyone sees the end, nobody reconnects.
        med.once("dialog", lambda dialog: dialog.accept())
        await med.click("#end-button")
        for page in parties:
            await page.wait_for_selector("#ended-screen:not([hidden])")
            assert "调解员已结束本次调解" in await page.inner_text("#ended-text")
            assert await page.evaluate("window.mediationRoom.peers.size") == 0
        await asyncio.sleep(2)
        for page in parties:
            assert await page.evaluate(OPENS) == 1
