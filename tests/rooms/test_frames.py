"""The actor's own text frames (rooms.connection.text_frame), read by aiohttp's client: every
length encoding of RFC 6455 (7-bit, 16-bit, 64-bit), at the edges, and text beyond ASCII."""

from __future__ import annotations

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from rooms.connection import text_frame

TEXTS = ["", "x" * 125, "x" * 126, "x" * 65_535, "x" * 65_536, "调解" * 40_000, '{"a":"é"}']


async def frames(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    assert request.transport is not None
    for text in TEXTS:
        request.transport.write(text_frame(text))
    await ws.close()
    return ws


async def test_text_frames_of_every_length_read_back(
    aiohttp_client: object,
) -> None:
    app = web.Application()
    app.router.add_get("/ws", frames)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(app)  # type: ignore[operator]
    ws = await client.ws_connect("/ws", max_msg_size=0)
    received = []
    for _ in TEXTS:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.TEXT
        received.append(msg.data)
    assert received == TEXTS
    assert (await ws.receive(timeout=5)).type is WSMsgType.CLOSE
