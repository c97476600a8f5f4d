"""Caucus isolation with real aiortc peers: after a move no signal crosses sub-rooms, both ends of
a connection that would cross are told to drop it, and the caucus pair reconnects. On SQLite
and PostgreSQL. (The Chromium test of inbound bytes is tests/rooms/test_browser*.)"""

from __future__ import annotations

import asyncio

from tests.rooms.conftest import Client, open_socket
from tests.rooms.peers import Peer


async def peer(browser: Client, room: int) -> Peer:
    member = Peer(await open_socket(browser, room))
    await member.send(type="join")
    await member.expect("welcome")
    return member


async def test_no_signal_crosses_sub_rooms_after_a_move(mediator, applicant, respondent, room):
    med = await peer(mediator, room)
    a = await peer(applicant, room)
    await med.send(type="admit", member=a.you["id"])
    await a.expect("admitted")
    b = await peer(respondent, room)
    await med.send(type="admit", member=b.you["id"])
    await b.expect("admitted")
    med_id, a_id, b_id = med.you["id"], a.you["id"], b.you["id"]
    await b.connected(med_id, a_id)
    await a.connected(med_id, b_id)
    await med.connected(a_id, b_id)
    a_pc_to_b = a.pcs[b_id]

    await med.send(type="move", member=a_id, subroom="caucus")
    await med.send(type="move", member=med_id, subroom="caucus")
    assert (await b.expect("member-left"))["member"]["id"] in (a_id, med_id)
    await b.expect("waiting")
    await a.connected(med_id)
    await med.connected(a_id)
    assert set(a.pcs) == {med_id} and set(med.pcs) == {a_id} and b.pcs == {}
    assert a_pc_to_b.connectionState == "closed"  # A was told to drop it, and did

    # B (held in the joint session) tries to reach A and the mediator: refused, nothing arrives.
    mark = len(a.signals_from), len(med.signals_from)
    for target in (a_id, med_id):
        await b.send(type="signal", to=target, description={"type": "offer", "sdp": "v=0\r\n"})
        assert (await b.expect("error"))["code"] == "not-reachable"
    await asyncio.sleep(0.5)
    assert b_id not in a.signals_from[mark[0] :] and b_id not in med.signals_from[mark[1] :]

    # Back to the joint session: the three connect again.
    await med.send(type="move", member=a_id, subroom="main")
    await med.send(type="move", member=med_id, subroom="main")
    await b.connected(med_id, a_id)
    await a.connected(med_id, b_id)
    for member in (med, a, b):
        await member.close()
