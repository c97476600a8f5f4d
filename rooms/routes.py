from aiohttp import web

from app.auth import own_session_key
from app.case_status import on_case_status
from app.panels import add_panel
from app.revocation import on_revoked
from rooms import connection, signaling, views
from rooms.bus import bus_context
from rooms.echo import echo_context
from rooms.recorder import recorders_context


def setup(app: web.Application) -> None:
    """Registers rooms's routes, case panels and job handlers."""
    app[signaling.limits_key] = signaling.Limits()
    app[signaling.live_key] = set()
    app.on_shutdown.append(signaling.close_all)
    on_revoked(app, signaling.close_sessions)
    on_case_status(app, signaling.close_if_concluded)
    app.cleanup_ctx.append(bus_context)
    app.cleanup_ctx.append(echo_context)
    app.cleanup_ctx.append(recorders_context)  # after the bus: stops before the bus closes
    app.router.add_get(r"/cases/{case_id:\d{1,9}}/room", views.enter_room, name="enter_room")
    app.router.add_get(r"/rooms/{room_id:\d{1,9}}", views.room_page, name="room")
    socket = app.router.add_resource(r"/rooms/{room_id:\d{1,9}}/ws", name="room_socket")
    socket.add_route("GET", connection.room_socket)
    app[own_session_key].add(socket.canonical)  # the join reads the session (rooms/arrival.py)
    app.router.add_post(r"/rooms/{room_id:\d{1,9}}/echo", views.echo, name="room_echo")
    app.router.add_post(r"/rooms/{room_id:\d{1,9}}/recorder", views.recorder, name="room_recorder")
    add_panel(app, views.room_panel)
