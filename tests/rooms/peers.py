"""aiortc participants for protocol tests: a room socket plus one RTCPeerConnection (with a data
channel) per member it is told to connect to, following rooms/PROTOCOL.md as a browser does:
the joiner (or the member whose view changed) offers; `member-left`, `waiting` and `moved` close
connections. No media tracks: a data channel proves the pair connected without encoding."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)

TIMEOUT = 10.0


def ice_configuration(servers: list[dict[str, Any]], relay_only: bool) -> RTCConfiguration:
    """`welcome.iceServers` as aiortc takes them (a browser passes them as they are)."""
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in servers], iceTransportPolicy=policy
    )


class Peer:
    def __init__(self, ws: ClientWebSocketResponse, *, relay_only: bool = False) -> None:
        self.ws = ws
        self.relay_only = relay_only
        self.config: RTCConfiguration | None = None
        self.pcs: dict[int, RTCPeerConnection] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.signals_from: list[int] = []
        self.you: dict[str, Any] = {}
        self.reader = asyncio.create_task(self.read())

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def expect(self, type_: str, within: float = TIMEOUT) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                data = await self.inbox.get()
                if data["type"] == type_:
                    return data

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type is not WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            await self.handle(data)
            await self.inbox.put(data)

    async def handle(self, data: dict[str, Any]) -> None:
        kind = data["type"]
        if kind == "welcome":
            self.you = data["you"]
            self.config = ice_configuration(data["iceServers"], self.relay_only)
            for member in data["members"]:
                await self.call(member["id"])
        elif kind in ("admitted", "moved"):
            listed = {m["id"] for m in data["members"]}
            for other in [o for o in self.pcs if o not in listed]:
                await self.drop(other)
            for other in listed:
                await self.call(other)
        elif kind == "waiting":
            for other in list(self.pcs):
                await self.drop(other)
        elif kind == "member-left":
            await self.drop(data["member"]["id"])
        elif kind == "signal":
            self.signals_from.append(data["from"]["id"])
            await self.on_signal(data["from"]["id"], data.get("description"))

    def connection(self, other: int) -> RTCPeerConnection:
        if other not in self.pcs:
            self.pcs[other] = RTCPeerConnection(self.config)
        return self.pcs[other]

    async def call(self, other: int) -> None:
        await self.drop(other)
        pc = self.connection(other)
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        await self.describe(other, pc)

    async def on_signal(self, other: int, description: dict[str, Any] | None) -> None:
        if description is None:
            return  # aiortc puts its candidates in the description; nothing to trickle
        if description["type"] == "offer":
            await self.drop(other)
        pc = self.connection(other)
        await pc.setRemoteDescription(
            RTCSessionDescription(description["sdp"], description["type"])
        )
        if description["type"] == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            await self.describe(other, pc)

    async def describe(self, other: int, pc: RTCPeerConnection) -> None:
        local = pc.localDescription
        await self.send(type="signal", to=other, description={"type": local.type, "sdp": local.sdp})

    async def drop(self, other: int) -> None:
        pc = self.pcs.pop(other, None)
        if pc is not None:
            await pc.close()

    async def connected(self, *others: int, within: float = TIMEOUT) -> None:
        """Waits until the connections to `others` are up."""
        async with asyncio.timeout(within):
            while not all(  # noqa: ASYNC110 (pcs are replaced as the room changes)
                o in self.pcs and self.pcs[o].connectionState == "connected" for o in others
            ):
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        for other in list(self.pcs):
            await self.drop(other)
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
