"""Room pages: entering a case's room (created on first entry), the room page itself,
and the case-page panel with the "Enter the room" button."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiortc import RTCSessionDescription
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import Gone, NotAuthenticated, NotFound, PermissionDenied, UserError
from app.forms import read_json
from app.i18n import get_locale
from app.i18n import gettext as _
from app.models import Case
from app.panels import Panel
from app.policy import load_case
from app.rendering import render
from rooms import policy, services, session
from rooms.echo import BAD_OFFER, echo_key
from rooms.protocol import ERROR_MESSAGES, FINAL_CLOSE_CODES, MAX_SDP
from rooms.recorder import recorders_key
from rooms.signaling import close_rooms_of_case

ROOM_CLOSED = ERROR_MESSAGES["room-closed"]


async def enter_room(request: web.Request) -> web.StreamResponse:
    """GET /cases/{case_id}/room: the case's room, created on first entry, then its page.

    A GET, because it is idempotent and harmless (the room exists once whoever asks, and only
    people who may see the case get in) and because a plain link works in every in-app browser.
    """
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    case_id = int(request.match_info["case_id"])
    async with transaction(request.app) as db:
        case = await load_case(db, principal, case_id)
        if policy.room_role(principal.kind, principal.role) is None:
            raise PermissionDenied("You are not allowed to do this.")
        concluded = case.status in policy.CONCLUDED_CASE_STATUSES
        if not concluded:
            room = await services.room_for_case(db, case.id, actor=principal.key)
            room_id = room.id
    if concluded:
        await close_rooms_of_case(request.app, case_id)
        raise Gone(ROOM_CLOSED)
    raise web.HTTPSeeOther(f"/rooms/{room_id}")


async def room_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    room_id = int(request.match_info["room_id"])
    try:
        async with request.app[sessionmaker_key]() as db:
            entry = await services.enter(db, principal, room_id)
    except NotFound:
        if principal.kind != "party":
            raise
        # A party holding a session for another case (or a stale room): say what to do.
        return render(request, "rooms/elsewhere.html", {"case_id": principal.case_id}, status=404)
    if entry.case.status in policy.CONCLUDED_CASE_STATUSES:
        await close_rooms_of_case(request.app, entry.case.id)
        raise Gone(ROOM_CLOSED)
    if entry.room.state == "closed":
        raise Gone(ROOM_CLOSED)
    config = {
        "roomId": entry.room.id,
        "caseId": entry.case.id,
        "wsPath": f"/rooms/{entry.room.id}/ws",
        "role": entry.role,
        "name": principal.name,
        "locale": get_locale(),
        "finalCloseCodes": list(FINAL_CLOSE_CODES),
        "strings": js_strings(),
    }
    return render(request, "rooms/room.html", {"entry": entry, "config": config})


async def echo(request: web.Request) -> web.StreamResponse:
    """POST /rooms/{room_id}/echo: the pre-join network check. `{"sdp", "type": "offer"}` in,
    the server echo peer's `{"sdp", "type": "answer"}` out; for whoever may enter the room."""
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    async with request.app[sessionmaker_key]() as db:
        await services.enter(db, principal, int(request.match_info["room_id"]))
    answer = await request.app[echo_key].answer(await read_offer(request))
    return web.json_response({"sdp": answer.sdp, "type": answer.type})


async def recorder(request: web.Request) -> web.StreamResponse:
    """POST /rooms/{room_id}/recorder: while the joint session is recorded, a member present in
    it with its consent sends its microphone here (`{"sdp", "type": "offer"}` in, answer out)."""
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    room_id = int(request.match_info["room_id"])
    async with request.app[sessionmaker_key]() as db:
        await services.enter(db, principal, room_id)
        room, member_id = await session.recordable(db, room_id, principal.key)
    offer = await read_offer(request)
    answer = await request.app[recorders_key].start(room_id, room.case_id, member_id, offer)
    return web.json_response({"sdp": answer.sdp, "type": answer.type})


async def read_offer(request: web.Request) -> RTCSessionDescription:
    body = await read_json(request)
    sdp = body.get("sdp")
    if body.get("type") != "offer" or not isinstance(sdp, str) or not 0 < len(sdp) <= MAX_SDP:
        raise UserError(BAD_OFFER)
    if not sdp.startswith("v=0") or "\nm=" not in sdp:  # aiortc would accept an empty session
        raise UserError(BAD_OFFER)
    return RTCSessionDescription(sdp=sdp, type="offer")


def js_strings() -> dict[str, str]:
    """Every string room.js shows, translated here (the catalogue lives with the server)."""
    return {
        "connecting": _("Connecting…"),
        "connected": _("Connected"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "waitingTitle": _("Please wait"),
        "waitingBody": _("The mediator will admit you shortly. Please keep this page open."),
        "noHost": _("The mediator has left. Please wait here until the mediator is back."),
        "knocking": _("someone is waiting"),
        "admit": _("Admit"),
        "decline": _("Decline"),
        "remove": _("Remove"),
        "noneWaiting": _("Nobody is waiting."),
        "you": _("You"),
        "left": _("You have left the room."),
        "removed": _("The mediator has asked you to leave the room."),
        "replaced": _("You joined this room in another window."),
        "ended": _("You are no longer connected to the room."),
        "lock": _("Lock the room"),
        "unlock": _("Unlock the room"),
        "locked": _("The room is locked: newcomers wait until the mediator admits them."),
        "tapToPlay": _("Tap to start sound and video"),
        "audioOnly": _("No camera found: you take part with sound only."),
        "noMedia": _("Camera and microphone are not available: others cannot see or hear you."),
        "confirmLeave": _("Leave the room?"),
        "role:mediator": _("Mediator"),
        "role:party": _("Party"),
        "role:expert": _("Expert"),
        "role:coordinator": _("Coordinator"),
        "peer:connecting": _("connecting"),
        "peer:failed": _("connection problem"),
    }


async def room_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    """The case page's "Mediation room" panel, for everyone who may take part."""
    role = policy.room_role(principal.kind, principal.role)
    if role is None:
        return None
    room = await services.room_of_case(db, case.id)
    state = room.state if room is not None else "open"
    context: dict[str, Any] = {
        "href": f"/cases/{case.id}/room",
        "room_state": policy.room_state_for(state, case.status),
        "role": role,
    }
    return Panel("rooms/panel.html", context)
