"""Relay-only TURN in Chromium: coturn on loopback (as tests/rooms/test_turn.py starts it), the
app handing out its time-limited credentials, and two Chromium pages opened with `?relay=1`
(`iceTransportPolicy: "relay"`): they offer only relay candidates, the pair they use is relay on
both ends, and video frames arrive through coturn."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from app.settings import Settings, settings_key
from tests.browsers import chromium, log_in, new_page
from tests.people import party_link, seed_ids
from tests.rooms.conftest import assign_mediator
from tests.rooms.test_browser import enter_room
from tests.rooms.test_browser_meeting import decoding, member_id
from tests.rooms.test_turn import TURNSERVER, Turn, documented_lines, start_coturn

pytestmark = pytest.mark.skipif(
    not Path(TURNSERVER).exists(), reason="coturn is not installed (make test installs it)"
)

# The local and remote candidate types of the pair each connection uses, and what it offered.
PATHS = """async () => {
  const out = [];
  for (const pc of window.mediationRoom.peers.values()) {
    const stats = await pc.getStats();
    const byId = new Map();
    stats.forEach((r) => byId.set(r.id, r));
    let pair = null;
    let frames = 0;
    stats.forEach((r) => {
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") pair = r;
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    const sdp = pc.localDescription ? pc.localDescription.sdp : "";
    out.push({
      state: pc.connectionState,
      frames,
      local: pair ? byId.get(pair.localCandidateId).candidateType : null,
      remote: pair ? byId.get(pair.remoteCandidateId).candidateType : null,
      offered: sdp.split("\\r\\n").filter((l) => l.startsWith("a=candidate")),
    });
  }
  return out;
}"""


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[Turn]:
    # The documented relay rules, except that this test's browsers live on loopback.
    rules = [r for r in documented_lines() if not r.startswith("denied-peer-ip=127.")]
    yield from start_coturn(tmp_path, [*rules, "allow-loopback-peers"])


@pytest.fixture
def settings(settings: Settings, turn: Turn) -> Settings:
    return replace(settings, turn_url=turn.url, turn_secret=turn.secret)


async def relay_only(page: Page) -> None:
    """Reopens the room page with `?relay=1` (a reload: the same member comes back)."""
    await page.goto(page.url.split("?")[0] + "?relay=1")


async def in_use(page: Page, within: float = 30.0) -> dict[str, Any]:
    """The page's only connection once it is connected and decoding, with its path."""
    async with asyncio.timeout(within):
        while True:
            paths = await page.evaluate(PATHS)
            path = paths[0] if len(paths) == 1 else {}
            if path.get("state") == "connected" and path["frames"] > 0 and path["local"]:
                return dict(path)
            await asyncio.sleep(0.25)


@pytest.mark.browser
async def test_two_chromiums_exchange_media_through_coturn_only(live_app: Any) -> None:
    base = live_app[settings_key].base_url
    ids = await seed_ids(live_app)
    case_id = ids["case"]
    await assign_mediator(live_app, case_id, ids["user:mediator"])
    async with chromium() as browser:
        med = await new_page(browser, "mediator")
        await log_in(med, base, "mediator")
        await med.goto(f"{base}/cases/{case_id}")
        await enter_room(med)
        await relay_only(med)
        party = await new_page(browser, "applicant")
        await party.goto(base + await party_link(live_app, case_id, "applicant"))
        await party.wait_for_url(f"**/cases/{case_id}")
        await enter_room(party)
        await relay_only(party)
        await med.wait_for_selector("#waiting-list li[data-member] button.admit")
        await med.click("#waiting-list li[data-member] button.admit")
        m, a = await member_id(med), await member_id(party)
        await decoding(party, [m])
        await decoding(med, [a])
        # A connection can be replaced once while both sides call (perfect negotiation's
        # glare): what counts is the one in use, connected and decoding.
        for page in (med, party):
            path = await in_use(page)
            assert path["local"] == "relay" and path["remote"] == "relay", path
            assert path["offered"] and all(" typ relay " in c for c in path["offered"]), path
