"""Chat: per sub-room, kept in the case timeline with the same privacy, history on arrival. Real
sockets of the test server, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from app.db import sessionmaker_key
from app.models import CaseEvent
from tests.rooms.conftest import join
from tests.rooms.test_controls import caucus, types
from tests.rooms.test_hosts import trio


async def test_chat_stays_in_its_sub_room_and_in_the_timeline(
    app, demo, mediator, applicant, respondent, room
):
    med, a, b = await trio(mediator, applicant, respondent, room)
    await a.send(type="chat", text="大家好")
    for member in (med, a, b):
        got = (await member.expect("chat"))["message"]
        assert got["text"] == "大家好" and got["subroom"] == "main"
        assert got["from"]["id"] == a.you["id"] and got["from"]["role"] == "party"

    await caucus(med, a, b)
    await a.send(type="chat", text="只对调解员说")
    assert (await med.expect("chat"))["message"]["text"] == "只对调解员说"
    assert (await a.expect("chat"))["message"]["subroom"] == "caucus"
    assert "chat" not in types(await b.quiet())
    await b.send(type="chat", text="没人听得到")  # held: only itself
    assert (await b.expect("chat"))["message"]["text"] == "没人听得到"
    assert "chat" not in types(await med.quiet()) + types(await a.quiet())

    async with app[sessionmaker_key]() as db:
        events = list(
            await db.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == demo["case"], CaseEvent.kind == "room_chat")
                .order_by(CaseEvent.id)
            )
        )
    assert [e.public for e in events] == [False, False, False]
    assert [e.data["audience"] for e in events] == [
        sorted([med.you["id"], a.you["id"], b.you["id"]]),
        sorted([med.you["id"], a.you["id"]]),
        [b.you["id"]],
    ]

    # Back to the joint session: `moved` carries the joint history A could hear, not B's aside.
    await med.send(type="move", member=a.you["id"], subroom="main")
    moved = await a.expect("waiting")  # alone with B until the mediator comes: held
    await med.send(type="move", member=med.you["id"], subroom="main")
    moved = await med.expect("moved")
    assert [c["text"] for c in moved["chat"]] == ["大家好", "没人听得到"]  # hosts read it all
    admitted = await a.expect("admitted")
    assert [c["text"] for c in admitted["chat"]] == ["大家好"]
    # A reload: the welcome carries the same history.
    again, welcome = await join(applicant, room)
    assert [c["text"] for c in welcome["chat"]] == ["大家好"]
    await again.ws.close()


async def test_chat_text_is_checked(mediator, applicant, room):
    med, _ = await join(mediator, room)
    party, _ = await join(applicant, room)
    for text, code in (
        ("x" * 1001, "too-long"),
        ("   ", "invalid-message"),
        (7, "invalid-message"),
    ):
        await med.send(type="chat", text=text)
        assert (await med.expect("error"))["code"] == code
    await med.send(type="chat", text="x" * 1000)
    assert len((await med.expect("chat"))["message"]["text"]) == 1000
    await party.send(type="chat", text="knock knock")  # from the lobby: nobody hears it
    assert (await party.expect("error"))["code"] == "not-admitted"
    assert "chat" not in types(await med.quiet())
