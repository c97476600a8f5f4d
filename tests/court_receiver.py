"""A court system's webhook receiver for tests, as a court would write it: a real aiohttp server
on loopback that checks `X-Mediation-Signature` over the raw body with the shared secret (401
when it does not match), registers each `Idempotency-Key` once and counts repeats apart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def verified(secret: str, raw: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@dataclass
class Receiver:
    secret: str = ""
    url: str = ""
    registered: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    # What the next requests answer before the receiver works normally (e.g. [503, 503]).
    failures: list[int] = field(default_factory=list)
    tamper: bool = False  # flip one byte of each body on the way in
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.tamper:
            raw = bytes([raw[0] ^ 0x01]) + raw[1:]
        if self.delay:
            await asyncio.sleep(self.delay)
        self.headers.append(dict(request.headers))
        if self.failures:
            return web.Response(status=self.failures.pop(0))
        if not verified(self.secret, raw, request.headers.get("X-Mediation-Signature", "")):
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        key = request.headers["Idempotency-Key"]
        if key in self.registered:
            self.duplicates[key] += 1
        else:
            self.registered[key] = json.loads(raw)
        return web.json_response({"ok": True})


@asynccontextmanager
async def running_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = web.Application()
    app.router.add_post("/hooks/mediation", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.url = f"http://127.0.0.1:{port}/hooks/mediation"
    try:
        yield receiver
    finally:
        await runner.cleanup()
