"""Room fixtures: the demo case assigned to the demo mediator, its room, and socket members."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from app.db import transaction
from app.models import Case
from rooms.models import Room
from tests.people import login, open_party_session

Client = TestClient[web.Request, web.Application]
TIMEOUT = 5.0


async def assign_mediator(app: web.Application, case_id: int, mediator_id: int) -> None:
    # The booking feature assigns mediators for real; these tests set it directly.
    async with transaction(app) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        case.mediator_id = mediator_id


async def make_room(app: web.Application, case_id: int) -> int:
    async with transaction(app) as db:
        room = Room(case_id=case_id, state="open")
        db.add(room)
        await db.flush()
        return room.id


class Member:
    """One participant's socket, as a browser would hold it."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.you: dict[str, Any] = {}

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def next(self, within: float = TIMEOUT) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=within)
        if msg.type is not WSMsgType.TEXT:
            raise AssertionError(f"expected a message, got {msg.type} {msg.data!r}")
        data: dict[str, Any] = json.loads(msg.data)
        self.seen.append(data)
        return data

    async def expect(self, type_: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The next message of this type (others on the way are kept in `seen`)."""
        async with asyncio.timeout(within):
            while True:
                data = await self.next(within)
                if data["type"] == type_:
                    return data

    async def quiet(self, within: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives, until `within` seconds pass without a message."""
        got: list[dict[str, Any]] = []
        try:
            while True:
                got.append(await self.next(within))
        except TimeoutError:
            return got

    async def closed(self, within: float = TIMEOUT) -> int | None:
        """Reads until the server closes; the close code."""
        async with asyncio.timeout(within):
            while True:
                msg = await self.ws.receive()
                if msg.type is WSMsgType.CLOSE:
                    # The code in the server's close frame, as a browser reports it (RFC 6455
                    # 7.1.5); aiohttp's client records 1006 when its own reply loses a race.
                    return int(msg.data)
                if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                    return self.ws.close_code
                if msg.type is WSMsgType.TEXT:
                    self.seen.append(json.loads(msg.data))


def origin(client: Client) -> str:
    return f"http://{client.host}:{client.port}"


async def open_socket(client: Client, room_id: int) -> ClientWebSocketResponse:
    return await client.ws_connect(f"/rooms/{room_id}/ws", headers={"Origin": origin(client)})


async def join(client: Client, room_id: int) -> tuple[Member, dict[str, Any]]:
    member = Member(await open_socket(client, room_id))
    await member.send(type="join")
    welcome = await member.expect("welcome")
    member.you = welcome["you"]
    return member, welcome


ClientFactory = Callable[[], Awaitable[Client]]


@pytest.fixture
async def browsers(client: Client, aiohttp_client: Any) -> AsyncIterator[ClientFactory]:
    """More browsers (own cookie jars) against the same test server as `client`."""
    made: list[Client] = [client]

    async def make() -> Client:
        browser: Client = await aiohttp_client(client.server)
        made.append(browser)
        return browser

    yield make
    # Close every browser's sockets before the first client's teardown stops the shared server
    # (TestClient keeps them in a private list; it closes only its own, and then the server).
    for browser in made:
        for ws in list(browser._websockets):
            await ws.close()


@pytest.fixture
async def room(app: web.Application, demo: dict[str, int]) -> int:
    await assign_mediator(app, demo["case"], demo["user:mediator"])
    return await make_room(app, demo["case"])


@pytest.fixture
async def mediator(client: Client, room: int) -> AsyncIterator[Client]:
    await login(client, "mediator")
    yield client


async def party_browser(
    browsers: ClientFactory, app: web.Application, case_id: int, role: str
) -> Client:
    browser = await browsers()
    await open_party_session(browser, app, case_id, role)
    return browser


@pytest.fixture
async def applicant(browsers: ClientFactory, app: web.Application, demo: dict[str, int]) -> Client:
    return await party_browser(browsers, app, demo["case"], "applicant")


@pytest.fixture
async def respondent(browsers: ClientFactory, app: web.Application, demo: dict[str, int]) -> Client:
    return await party_browser(browsers, app, demo["case"], "respondent")
