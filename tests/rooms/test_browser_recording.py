"""Recording from the browser: with everyone's consent the host starts recording, each member's
Chromium (fake microphone: a beep every second) sends its microphone to the server's recording
peer, and after the host stops, one file per member is in storage — decoded back, seconds of
audio that is not silence — with its SHA-256 in the case timeline. A caucus is never recorded:
moving out of the joint session closes the member's connection and stores its file at once."""

from __future__ import annotations

import array
import asyncio
import hashlib
import io
from typing import Any

import av
import pytest
from playwright.async_api import Page
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import CaseEvent
from app.storage import storage_key
from rooms.recorder import recorders_key
from tests.people import seed_ids
from tests.rooms.test_browser_meeting import (
    PARTIES,
    everyone_decoding,
    meeting,
    member_id,
    tile,
)

SENDING = """() => {
  const pc = window.mediationRoom.recorder;
  return !!pc && pc.connectionState === "connected";
}"""


def decoded(data: bytes) -> tuple[float, float]:
    """Seconds of audio in an Ogg/Opus file and its peak amplitude (0 to 1)."""
    seconds, peak = 0.0, 0.0
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(audio=0):
            seconds += frame.samples / frame.sample_rate
            for plane in frame.planes:
                raw = bytes(plane)
                if frame.format.name.startswith("flt"):
                    samples = array.array("f", raw)
                    scale = 1.0
                else:
                    samples = array.array("h", raw[: len(raw) // 2 * 2])
                    scale = 32768.0
                if samples:
                    peak = max(peak, max(abs(x) for x in samples) / scale)
    return seconds, peak


async def recorded(app: Any, case_id: int, count: int, within: float = 20.0) -> list[CaseEvent]:
    events: list[CaseEvent] = []
    try:
        async with asyncio.timeout(within):
            while True:
                async with app[sessionmaker_key]() as db:
                    events = list(
                        await db.scalars(
                            select(CaseEvent)
                            .where(CaseEvent.case_id == case_id, CaseEvent.kind == "room_recorded")
                            .order_by(CaseEvent.id)
                        )
                    )
                if len(events) >= count:
                    return events
                await asyncio.sleep(0.2)
    except TimeoutError:
        still = {room: list(members) for room, members in app[recorders_key].rooms.items()}
        stored = [e.data["member"] for e in events]
        raise AssertionError(f"stored for members {stored}; still recording {still}") from None


async def receiving(app: Any, count: int, within: float = 20.0, packets_each: int = 50) -> None:
    """Until `count` recording peers have each received a second of audio packets. A recording
    stopped before the recorder wrote its first packet has nothing to store (and is rightly not
    stored); aiortc's audio jitter buffer holds the first packets back and the Opus encoder looks
    ahead, so a few received packets are not yet a written one."""
    recordings = app[recorders_key].rooms

    async def packets() -> dict[int, int]:
        got = {}
        for room in recordings.values():
            for member, recording in list(room.items()):
                stats = (await recording.pc.getStats()).values()
                got[member] = sum(
                    s.packetsReceived
                    for s in stats
                    if s.type == "inbound-rtp" and s.kind == "audio"
                )
        return got

    try:
        async with asyncio.timeout(within):
            while True:
                if sum(n >= packets_each for n in (await packets()).values()) >= count:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"audio packets by member: {await packets()}") from None


async def start_recording(pages: dict[str, Page]) -> None:
    med = pages["mediator"]
    await med.click("#record-button")
    for page in pages.values():
        await page.wait_for_selector("#recording-indicator:not([hidden])")
    for page in pages.values():
        await page.wait_for_function(SENDING, timeout=20_000)


@pytest.mark.browser
async def test_each_member_sends_its_microphone_and_a_caucus_stops_it(live_app: Any) -> None:
    from tests.browsers import chromium

    case_id = (await seed_ids(live_app))["case"]
    async with chromium() as browser:
        pages = await meeting(browser, live_app)
        await everyone_decoding(pages, within=40)
        med = pages["mediator"]
        ids = {name: await member_id(page) for name, page in pages.items()}
        for page in pages.values():
            await page.check("#consent-box")
        await med.wait_for_function(
            "() => [...window.mediationRoom.members.values()].every((m) => m.consent)"
        )
        await start_recording(pages)
        await asyncio.sleep(3.5)  # three beeps of Chromium's fake microphone
        await med.click("#record-button")
        for page in pages.values():
            await page.wait_for_selector("#recording-indicator", state="hidden")
            await page.wait_for_function("() => window.mediationRoom.recorder === null")

        events = await recorded(live_app, case_id, 3)
        assert sorted(e.data["member"] for e in events) == sorted(ids.values())
        for event in events:
            assert event.public is False
            data = await live_app[storage_key].get(event.data["key"])
            assert data.startswith(b"OggS") and len(data) == event.data["bytes"]
            assert hashlib.sha256(data).hexdigest() == event.data["sha256"]
            seconds, peak = decoded(data)
            assert seconds > 2.0, (event.data, seconds)
            assert peak > 0.05, (event.data, peak)  # the beeps, not silence

        # Recording again; the mediator takes the applicant into a caucus: both stop sending
        # and their files are stored while the joint session is still being recorded.
        await start_recording(pages)
        await receiving(live_app, 3)
        applicant = PARTIES[0]
        await med.click(f"{tile(ids[applicant])} .to-private")
        for name in ("mediator", applicant):
            await pages[name].wait_for_function("() => window.mediationRoom.recorder === null")
        # The respondent, alone in `main` without a host, is held: it stops sending too.
        await pages[PARTIES[1]].wait_for_function("() => window.mediationRoom.recorder === null")
        events = await recorded(live_app, case_id, 6)
        assert sorted(e.data["member"] for e in events[3:]) == sorted(ids.values())
        assert await med.is_visible("#recording-indicator")  # the joint session still is
