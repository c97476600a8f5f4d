"""Consented recording of the joint session's audio by the server's aiortc peer: the file is
stored through app/storage.py and its SHA-256 is in the case timeline. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import CaseEvent
from app.storage import storage_key
from tests.people import csrf
from tests.rooms.conftest import join, origin


async def offer_audio(browser: Any, room: int) -> tuple[Any, RTCPeerConnection]:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    token = await csrf(browser, f"/rooms/{room}")
    response = await browser.post(
        f"/rooms/{room}/recorder",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"X-CSRF-Token": token, "Origin": origin(browser), "Accept": "application/json"},
    )
    return response, pc


def seconds_of_audio(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


async def recorded(app: Any, case_id: int, within: float = 15.0) -> list[CaseEvent]:
    async with asyncio.timeout(within):
        while True:
            async with app[sessionmaker_key]() as db:
                events = list(
                    await db.scalars(
                        select(CaseEvent).where(
                            CaseEvent.case_id == case_id, CaseEvent.kind == "room_recorded"
                        )
                    )
                )
            if events:
                return events
            await asyncio.sleep(0.2)


async def test_the_server_records_consented_audio_of_the_joint_session(
    app, demo, mediator, applicant, room
):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    refused, pc = await offer_audio(applicant, room)  # not admitted, nothing recorded
    assert refused.status == 409
    await pc.close()
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    for member in (med, party):
        await member.send(type="consent", recording=True)
    await med.expect("member-updated")
    await med.quiet()
    await med.send(type="record", on=True)
    await party.expect("recording")

    response, pc = await offer_audio(applicant, room)
    assert response.status == 200
    await pc.setRemoteDescription(RTCSessionDescription(**await response.json()))
    await asyncio.sleep(2.0)  # two seconds of (silent) speech
    await med.send(type="record", on=False)
    assert (await party.expect("recording"))["on"] is False
    (event,) = await recorded(app, demo["case"])
    assert event.public is False and event.data["member"] == party.you["id"]
    data = await app[storage_key].get(event.data["key"])
    assert data.startswith(b"OggS") and len(data) == event.data["bytes"]
    assert hashlib.sha256(data).hexdigest() == event.data["sha256"]
    assert seconds_of_audio(data) > 1.0
    await pc.close()


async def test_no_recording_without_the_members_consent(app, demo, mediator, applicant, room):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    await med.send(type="admit", member=party.you["id"])
    await party.expect("admitted")
    response, pc = await offer_audio(applicant, room)  # not recording
    assert response.status == 409
    body = await response.json()
    assert body
    await pc.close()
