"""The room client when things go wrong, in headless Chromium against the real server: the
WebSocket cut, the network cut (DevTools offline, then online) — the member returns to the same
sub-room by itself, once — and the device check: microphone level, camera preview, the network
check against the server's echo peer, help when access is refused."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from app.settings import settings_key
from tests.browsers import chromium, log_in, new_page
from tests.people import party_link, seed_ids
from tests.rooms.conftest import assign_mediator
from tests.rooms.test_browser import enter_room
from tests.rooms.test_browser_meeting import decoding, member_id, tile

OPENS = "window.mediationRoom.room.conn.opens"


async def back_in(page: Page, opens: int, subroom: str, others: list[int]) -> None:
    """The page opened its `opens`-th socket, is admitted in `subroom` and decodes `others`."""
    await page.wait_for_function(f"() => {OPENS} >= {opens}", timeout=40_000)
    await page.wait_for_function(
        """(subroom) => {
          const me = window.mediationRoom.me;
          return window.mediationRoom.connected && me.admission === "admitted"
            && me.subroom === subroom;
        }""",
        arg=subroom,
        timeout=20_000,
    )
    await decoding(page, others)
    assert await page.is_hidden("#lobby-screen")


@pytest.mark.browser
async def test_reconnects_to_the_same_sub_room_after_socket_and_network_cuts(
    live_app: Any,
) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    await assign_mediator(live_app, case_id, ids["user:mediator"])
    async with chromium() as browser:
        med = await new_page(browser, "mediator")
        await log_in(med, base, "mediator")
        await med.goto(f"{base}/cases/{case_id}")
        await enter_room(med)
        party = await new_page(browser, "applicant")
        await party.goto(base + await party_link(live_app, case_id, "applicant"))
        await party.wait_for_url(f"**/cases/{case_id}")
        await enter_room(party)
        await med.click("#waiting-list li[data-member] button.admit")
        m, a = await member_id(med), await member_id(party)
        await decoding(party, [m])
        # Into a private room, so "the same sub-room" is not simply the default one.
        await med.click(f"{tile(a)} .to-private")
        await party.wait_for_function("() => window.mediationRoom.me.subroom !== 'main'")
        subroom = await party.evaluate("window.mediationRoom.me.subroom")
        await decoding(party, [m])

        # The WebSocket is cut: the page reconnects with backoff, nobody acts.
        await party.evaluate("window.mediationRoom.room.conn.socket.close()")
        await back_in(party, 2, subroom, [m])
        await decoding(med, [a])

        # The network is cut, then comes back.
        cdp = await party.context.new_cdp_session(party)
        await cdp.send("Network.enable")
        offline = {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}
        await cdp.send("Network.emulateNetworkConditions", offline)
        await party.wait_for_function("() => !window.mediationRoom.connected", timeout=30_000)
        await cdp.send("Network.emulateNetworkConditions", {**offline, "offline": False})
        await back_in(party, 3, subroom, [m])
        await decoding(med, [a])

        # Never duplicated: one tile, one member entry for the party on the mediator's page.
        assert await med.locator(f'#stage .tile[data-member="{a}"]').count() == 1
        assert await med.evaluate("[...window.mediationRoom.members.keys()]") == [a]
        assert await party.locator("#stage .tile:not(.local)").count() == 1


@pytest.mark.browser
async def test_device_check_and_network_check(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    await assign_mediator(live_app, case_id, ids["user:mediator"])
    async with chromium() as browser:
        med = await new_page(browser, "mediator")
        await log_in(med, base, "mediator")
        await med.goto(f"{base}/cases/{case_id}")
        await enter_room(med)
        await med.click("#settings-button")
        assert await med.get_attribute("#settings-button", "aria-expanded") == "true"
        await med.wait_for_function(
            "() => document.getElementById('check-preview').videoWidth > 0", timeout=15_000
        )
        # Chromium's fake microphone beeps: the meter moves.
        await med.wait_for_function("() => window.mediationRoom.micLevel > 0.01", timeout=15_000)
        assert await med.locator("#mic-select option").count() >= 2
        await med.click("#speaker-test")
        await med.click("#network-test")
        await med.wait_for_function("() => window.mediationRoom.networkCheck", timeout=30_000)
        result = await med.evaluate("window.mediationRoom.networkCheck")
        # Loopback, but on a loaded machine the echo's round trip can pass 250 ms ("fair").
        assert result["kbps"] > 0 and result["rtt"] >= 0 and result["level"] != "poor", result
        assert "往返时延" in await med.inner_text("#network-result")

        # Access refused (as the browser answers when the person says no): the page says how
        # to allow it, and the person can still follow.
        refused = await new_page(browser, "refused")
        await refused.context.add_init_script(
            """navigator.mediaDevices.getUserMedia = async () => {
                 throw new DOMException("refused", "NotAllowedError");
               };"""
        )
        await log_in(refused, base, "mediator")
        await refused.goto(med.url)
        await refused.click("#settings-button")
        await refused.wait_for_selector("#check-help:not([hidden])")
        assert "拒绝" in await refused.inner_text("#check-help")
