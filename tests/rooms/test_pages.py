"""The case panel, entering a room (created once), the room page and who may see it."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from app.db import sessionmaker_key
from rooms.models import Room
from tests.people import login, open_party_session
from tests.rooms.conftest import assign_mediator

CONFIG = re.compile(r'<script type="application/json" id="room-config">(.*?)</script>', re.S)


async def enter(client, case_id: int) -> str:
    response = await client.get(f"/cases/{case_id}/room", allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_mediator_enters_and_the_room_is_made_once(app, client, demo):
    await assign_mediator(app, demo["case"], demo["user:mediator"])
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{demo['case']}")).text()
    assert f'href="/cases/{demo["case"]}/room"' in page
    first = await enter(client, demo["case"])
    second = await enter(client, demo["case"])
    assert first == second and re.fullmatch(r"/rooms/\d+", first)
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Room)) == 1
    response = await client.get(first)
    assert response.status == 200
    html = await response.text()
    config = json.loads(CONFIG.search(html).group(1))
    assert config["role"] == "mediator" and config["wsPath"] == f"{first}/ws"
    assert set(config["strings"]) >= {"admit", "waitingTitle", "tapToPlay"}
    assert "<script>" not in html  # CSP: no inline scripts, only the module and the JSON island
    assert '<script type="module" src="/static/rooms/room.js"></script>' in html


async def test_party_enters_from_its_case_page(app, client, demo):
    await assign_mediator(app, demo["case"], demo["user:mediator"])
    await open_party_session(client, app, demo["case"], "respondent")
    location = await enter(client, demo["case"])
    html = await (await client.get(location)).text()
    assert json.loads(CONFIG.search(html).group(1))["role"] == "party"


async def test_coordinator_sees_the_panel_clerk_does_not(app, client, demo):
    await login(client, "coordinator")
    assert "/room" in await (await client.get(f"/cases/{demo['case']}")).text()
    location = await enter(client, demo["case"])
    html = await (await client.get(location)).text()
    assert json.loads(CONFIG.search(html).group(1))["role"] == "coordinator"


async def test_other_mediator_cannot_enter(app, client, demo):
    await assign_mediator(app, demo["case"], demo["user:mediator"])
    await login(client, "mediator2")
    response = await client.get(f"/cases/{demo['case']}/room", allow_redirects=False)
    assert response.status == 404
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Room)) == 0


async def test_clerk_has_no_room(app, client, demo):
    await login(client, "clerk")
    response = await client.get(f"/cases/{demo['case']}/room", allow_redirects=False)
    assert response.status == 404


async def test_anonymous_room_page_goes_to_login(client, demo):
    response = await client.get("/rooms/1", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?next=/rooms/1")
