"""The server's aiortc echo peer for the pre-join network check (`POST /rooms/{id}/echo`): it
answers the browser's offer and sends back whatever it receives (media tracks and data channel
messages), so the browser measures round-trip time, loss and bitrate from getStats. At most
`settings.room_echo_peers` run at once per process, each closed after ECHO_SECONDS.

The echo peer gets no STUN/TURN servers: a slow entry stalls aiortc's answer for seconds, and the
server is reachable on its own addresses. A received track is sent back as it is (one
subscriber, no MediaRelay: see ARCHITECTURE.md on yuv420p crashes with several subscribers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from app.errors import TooManyRequests, UserError
from app.i18n import N_
from app.settings import settings_key

log = logging.getLogger("rooms.echo")
ECHO_SECONDS = 60.0
BUSY = N_("Too many network checks are running. Please try again in a minute.")
BAD_OFFER = N_("The network check could not start: the browser's offer was not accepted.")


class EchoPeers:
    """The app's echo peers (one per network check running now), bounded and self-closing."""

    def __init__(self, limit: int, seconds: float = ECHO_SECONDS) -> None:
        self.limit = limit
        self.seconds = seconds
        self.peers: dict[RTCPeerConnection, asyncio.Task[None]] = {}

    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        # Checked and taken with no await between: the bound holds however many requests race.
        if len(self.peers) >= self.limit:
            raise TooManyRequests(BUSY, retry_after=int(self.seconds))
        pc = RTCPeerConnection()
        self.peers[pc] = asyncio.create_task(self._expire(pc))
        echo(pc)
        try:
            await pc.setRemoteDescription(offer)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises ValueError and others on SDP it cannot take
            log.info("echo: refused offer (%s)", exc)
            await self.close(pc)
            raise UserError(BAD_OFFER) from None
        return pc.localDescription

    async def _expire(self, pc: RTCPeerConnection) -> None:
        await asyncio.sleep(self.seconds)
        self.peers.pop(pc, None)
        await pc.close()

    async def close(self, pc: RTCPeerConnection) -> None:
        task = self.peers.pop(pc, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        await pc.close()

    async def close_all(self) -> None:
        for pc in list(self.peers):
            await self.close(pc)


def echo(pc: RTCPeerConnection) -> None:
    """Sends back every track and data channel message the peer receives."""

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        pc.addTrack(track)

    @pc.on("datachannel")
    def on_datachannel(channel: Any) -> None:
        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            with contextlib.suppress(Exception):  # the channel may close meanwhile
                channel.send(message)


echo_key = web.AppKey("rooms_echo_peers", EchoPeers)


async def echo_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the echo peers live with the app and close with it."""
    app[echo_key] = EchoPeers(app[settings_key].room_echo_peers)
    yield
    await app[echo_key].close_all()
