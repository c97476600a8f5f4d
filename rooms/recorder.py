"""Consented recording of the joint session's audio by the server's aiortc peer.

While the joint session is recorded (`record`, rooms/commands.py), each member present in `main`
with its consent sends its microphone to `POST /rooms/{id}/recorder`; the server records that
audio (Ogg/Opus, aiortc MediaRecorder) until the recording stops (`recording` off, `ended`, the
room closed, the member's connection gone, or the member leaves the joint session: moved to a
caucus, which never is recorded, or held there when no host is left), then stores the file
through app/storage.py and writes its SHA-256 in the case timeline (`room_recorded`, not
public). One file per member and recording; video is never recorded (a video track is consumed
and dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole, MediaRecorder
from aiortc.mediastreams import MediaStreamTrack

from app.db import sessionmaker_key, transaction, utcnow
from app.errors import TooManyRequests
from app.i18n import N_
from app.models import CaseEvent
from app.settings import settings_key
from app.storage import storage_key
from rooms import policy
from rooms.bus import Event, bus_key
from rooms.policy import MemberState
from rooms.services import members

log = logging.getLogger("rooms.recorder")
MAX_RECORDERS = 32  # per process; each records one member's audio (Opus encoding, cheap)
BUSY = N_("Too many recordings are running. Please try again in a minute.")


@dataclass
class Recording:
    room_id: int
    case_id: int
    member_id: int
    pc: RTCPeerConnection
    recorder: MediaRecorder
    path: Path
    started: datetime = field(default_factory=utcnow)
    sink: MediaBlackhole = field(default_factory=MediaBlackhole)


class Recorders:
    """The app's recording peers, by room and member."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.rooms: dict[int, dict[int, Recording]] = {}
        self.listeners: dict[int, Any] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.spool = app[settings_key].var_dir / "recording-spool"

    async def start(
        self, room_id: int, case_id: int, member_id: int, offer: RTCSessionDescription
    ) -> RTCSessionDescription:
        await self.stop_member(room_id, member_id)
        if sum(len(r) for r in self.rooms.values()) >= MAX_RECORDERS:
            raise TooManyRequests(BUSY, retry_after=60)
        self.spool.mkdir(parents=True, exist_ok=True)
        path = self.spool / f"room-{room_id}-member-{member_id}-{utcnow():%Y%m%dT%H%M%S%f}.ogg"
        pc = RTCPeerConnection()
        recording = Recording(room_id, case_id, member_id, pc, MediaRecorder(str(path)), path)
        pc.on("track", lambda track: self._track(recording, track))
        pc.on("connectionstatechange", lambda: self._gone(recording))
        self.rooms.setdefault(room_id, {})[member_id] = recording
        await self._listen(room_id)
        try:
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
            await recording.recorder.start()
            await recording.sink.start()
        except Exception:
            await self.stop_member(room_id, member_id, keep=False)
            raise
        return pc.localDescription

    def _track(self, recording: Recording, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            recording.recorder.addTrack(track)
        else:
            recording.sink.addTrack(track)

    def _gone(self, recording: Recording) -> None:
        if recording.pc.connectionState in ("failed", "closed"):
            self._spawn(self.stop_member(recording.room_id, recording.member_id))

    async def _listen(self, room_id: int) -> None:
        if room_id in self.listeners:
            return

        def on_event(event: Event) -> None:
            if stops_recording(event):
                self._spawn(self.stop_room(room_id))
            elif event.get("kind") == "member" and self.rooms.get(room_id):
                self._spawn(self.prune(room_id))

        self.listeners[room_id] = on_event
        await self.app[bus_key].subscribe(room_id, on_event)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def prune(self, room_id: int) -> None:
        """Stops the recordings of members no longer in the joint session: moved to a caucus,
        sent back to the lobby, removed, or held because no host is left in `main` (their
        browsers stop sending too, but a closed connection can take aiortc half a minute to
        notice)."""
        async with self.app[sessionmaker_key]() as db:
            rows = await members(db, room_id)
        online = {m: s for s, m in (await self.app[bus_key].presence(room_id)).items()}
        states = [replace(m, session=online.get(m.id)) for m in rows]
        recordable = joint_session(states)
        for member_id in list(self.rooms.get(room_id, {})):
            if member_id not in recordable:
                await self.stop_member(room_id, member_id)

    async def stop_room(self, room_id: int) -> None:
        for member_id in list(self.rooms.get(room_id, {})):
            await self.stop_member(room_id, member_id)
        listener = self.listeners.pop(room_id, None)
        if listener is not None and not self.rooms.get(room_id):
            self.rooms.pop(room_id, None)
            await self.app[bus_key].unsubscribe(room_id, listener)

    async def stop_member(self, room_id: int, member_id: int, *, keep: bool = True) -> None:
        recording = self.rooms.get(room_id, {}).pop(member_id, None)
        if recording is None:
            return
        await recording.recorder.stop()
        await recording.sink.stop()
        await recording.pc.close()
        try:
            if keep and recording.path.exists() and recording.path.stat().st_size > 0:
                await self.store(recording)
        finally:
            with contextlib.suppress(FileNotFoundError):
                recording.path.unlink()

    async def store(self, recording: Recording) -> None:
        """The file into storage, its SHA-256 into the case timeline (in one step each)."""
        data = await asyncio.to_thread(recording.path.read_bytes)
        key = f"recordings/case-{recording.case_id}/{recording.path.name}"
        digest = await self.app[storage_key].put(key, data)
        async with transaction(self.app) as db:
            db.add(
                CaseEvent(
                    case_id=recording.case_id,
                    kind="room_recorded",
                    actor="system",
                    public=False,
                    data={
                        "room": recording.room_id,
                        "member": recording.member_id,
                        "key": key,
                        "sha256": digest,
                        "bytes": len(data),
                        "from": recording.started.isoformat(),
                        "to": utcnow().isoformat(),
                    },
                )
            )

    async def close_all(self) -> None:
        for room_id in list(self.rooms):
            await self.stop_room(room_id)
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def stops_recording(event: Event) -> bool:
    kind = event.get("kind")
    if kind == "recording":
        return not event.get("on")
    return kind == "ended" or (kind == "room" and event.get("state") == "closed")


def joint_session(members: list[MemberState]) -> set[int]:
    """The members whose audio may be recorded: admitted in `main` with their consent, and not
    held there for want of a host."""
    hosted = policy.hosted_subrooms(members)
    return {
        m.id
        for m in members
        if m.admission == "admitted"
        and m.subroom == policy.MAIN
        and m.consent
        and not policy.held(m, hosted)
    }


recorders_key = web.AppKey("rooms_recorders", Recorders)


async def recorders_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: recordings in progress are stored when the app stops."""
    app[recorders_key] = Recorders(app)
    yield
    await app[recorders_key].close_all()
