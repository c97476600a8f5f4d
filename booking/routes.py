from aiohttp import web

from booking import api, api_docs, panels, reminders, views

CASE = r"/cases/{case_id:\d{1,9}}"


def setup(app: web.Application) -> None:
    """Registers booking's routes, case panels and job handlers."""
    app.router.add_get("/apply", views.apply_form, name="apply")
    app.router.add_post("/apply", views.apply_submit)
    app.router.add_post(f"{CASE}/register", views.register)
    app.router.add_get(f"{CASE}/book", views.book_page)
    app.router.add_post(f"{CASE}/appointments", views.book_submit)
    app.router.add_post(rf"{CASE}/appointments/{{appointment_id:\d{{1,9}}}}/cancel", views.cancel)
    app.router.add_get(f"{CASE}/invitations", views.invitations)
    app.router.add_post(f"{CASE}/invitations", views.reissue)

    app.router.add_post("/api/v1/cases", api.create_case)
    app.router.add_get("/api/v1/mediators", api.list_mediators)
    app.router.add_get(r"/api/v1/mediators/{mediator_id:\d{1,9}}/slots", api.mediator_slots)
    app.router.add_post("/api/v1/appointments", api.create_appointment)
    api_docs.setup(app)

    panels.setup(app)
    reminders.setup(app)
