from aiohttp import web

from app.case_status import on_case_status
from app.panels import add_panel
from app.revocation import on_revoked
from rooms import signaling, views
from rooms.bus import bus_context


def setup(app: web.Application) -> None:
    """Registers rooms's routes, case panels and job handlers."""
    app[signaling.limits_key] = signaling.Limits()
    app[signaling.live_key] = set()
    app.on_shutdown.append(signaling.close_all)
    on_revoked(app, signaling.close_sessions)
    on_case_status(app, signaling.close_if_concluded)
    app.cleanup_ctx.append(bus_context)
    app.router.add_get(r"/cases/{case_id:\d{1,9}}/room", views.enter_room, name="enter_room")
    app.router.add_get(r"/rooms/{room_id:\d{1,9}}", views.room_page, name="room")
    app.router.add_get(r"/rooms/{room_id:\d{1,9}}/ws", signaling.room_socket, name="room_socket")
    add_panel(app, views.room_panel)
