"""Hypothesis fuzzes the signaling server through real sockets, on both databases: whatever a
party sends, the server never fails (no `server-error`, every socket still answers), another room
hears nothing, and nothing a host alone may do happens (no `asked`, `muted`, `recording`, `ended`,
no admission, move or removal, the room neither locked nor recorded nor ended).

Hypothesis drives synchronously, so it runs in a worker thread and hands each generated message
to the test's event loop, where the app and the sockets live. Derandomized and bounded: the same
messages on every run.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.db import sessionmaker_key
from app.factory import create_app
from app.settings import Settings
from rooms.models import Room, RoomMember
from rooms.protocol import CLIENT_TYPES
from rooms.signaling import Limits, limits_key
from tests.builders import applications
from tests.people import login
from tests.rooms.conftest import Member, assign_mediator, join, make_room
from tests.rooms.test_hosts import trio

EXAMPLES = 40
# Well-formed messages only a host (or the mediator) may send, aimed at the other party (ids are
# mediator, applicant, respondent).
HOST_ONLY = [
    lambda ids: json.dumps({"type": "ask", "member": ids[2], "what": "mute"}),
    lambda ids: json.dumps({"type": "mute", "member": ids[2]}),
    lambda ids: json.dumps({"type": "record", "on": True}),
    lambda ids: json.dumps({"type": "move", "member": ids[2], "subroom": "caucus"}),
    lambda ids: json.dumps({"type": "remove", "member": ids[2]}),
    lambda ids: json.dumps({"type": "admit", "member": ids[2]}),
    lambda ids: json.dumps({"type": "lock"}),
    lambda ids: json.dumps({"type": "end"}),
]
HOST_ONLY_EFFECTS = {"asked", "muted", "recording", "ended", "removed", "room-state", "moved"}


@pytest.fixture
def app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app[limits_key] = Limits(rate=1e6, burst=1e6)  # the fuzzer is not a flood
    return app


def messages(ids: list[int]) -> st.SearchStrategy[str]:
    """Frames: messages of every client type but `leave` with plausible and absurd fields, and
    raw text."""
    value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    )
    member = st.sampled_from([*ids, 0, -1, 2**31, 424242]) | value
    fields = {
        "member": member,
        "to": member,
        "subroom": st.sampled_from(["main", "caucus", "", "x" * 40, "主"]) | value,
        "what": st.sampled_from(["mute", "camera-off", "leave"]) | value,
        "text": st.text(max_size=30) | value,
        "on": st.booleans() | value,
        "recording": st.booleans() | value,
        "raised": st.booleans() | value,
        "level": st.sampled_from(["good", "fair", "poor", "bad"]) | value,
        "audio": st.booleans(),
        "video": st.booleans(),
        "screen": st.booleans(),
        "audioOnly": st.booleans() | value,
        "description": st.fixed_dictionaries(
            {"type": st.sampled_from(["offer", "answer", "pranswer"]), "sdp": st.text(max_size=20)}
        )
        | value,
        "candidate": st.fixed_dictionaries({"candidate": st.text(max_size=20)}) | value,
    }
    typed = st.fixed_dictionaries(
        {"type": st.sampled_from([t for t in CLIENT_TYPES if t != "leave"])}, optional=fields
    ).map(json.dumps)
    return typed | st.text(max_size=40)


async def drain(member: Member) -> list[dict[str, Any]]:
    """Everything up to the answer to a ping: the server has handled all that was sent before."""
    await member.send(type="ping")
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while (msg := await member.next()) != {"type": "pong"}:
            got.append(msg)
    return got


async def durable(app: web.Application, room: int) -> tuple[Any, ...]:
    async with app[sessionmaker_key]() as db:
        state = await db.get(Room, room, populate_existing=True)
        assert state is not None
        rows = await db.execute(
            select(RoomMember.id, RoomMember.admission, RoomMember.subroom)
            .where(RoomMember.room_id == room)
            .order_by(RoomMember.id)
        )
        return state.state, state.recording, state.ended_at, [tuple(r) for r in rows]


async def test_a_party_cannot_break_or_take_over_the_room(
    app, demo, browsers, mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    (other_case,) = await applications(app, demo["org:town"])
    await assign_mediator(app, other_case, demo["user:mediator"])
    other_room = await make_room(app, other_case)
    elsewhere = await browsers()
    await login(elsewhere, "mediator")
    other, _ = await join(elsewhere, other_room)
    await other.quiet()
    settled = len(other.seen)
    before = await durable(app, room)
    ids = [med.you["id"], a.you["id"], b.you["id"]]
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []

    async def one(frames: list[str]) -> None:
        for frame in frames:
            await a.ws.send_str(frame)
        for member in (a, med, b, other):
            seen.extend(await drain(member))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(messages(ids), min_size=1, max_size=6))
    @example([host_only(ids) for host_only in HOST_ONLY])  # well-formed, aimed at real members
    def fuzz(frames: list[str]) -> None:
        asyncio.run_coroutine_threadsafe(one(frames), loop).result(timeout=60)

    await asyncio.to_thread(fuzz)

    errors = {m["code"] for m in seen if m["type"] == "error"}
    assert "server-error" not in errors
    assert not [m for m in seen if m["type"] in HOST_ONLY_EFFECTS]
    assert {m["type"] for m in other.seen[settled:]} == {"pong"}  # the other room: nothing
    assert await durable(app, room) == before
    assert {"not-allowed", "invalid-message", "invalid-json"} <= errors  # it did probe
