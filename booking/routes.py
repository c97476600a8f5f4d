from aiohttp import web

from app.security import allow_anonymous
from app.settings import settings_key
from app.uploads import allow_body
from booking import (
    aftercare_views,
    api,
    api_docs,
    availability_views,
    choice,
    clinic_api,
    clinic_api_docs,
    clinic_staff_views,
    clinic_views,
    clocks,
    desk_api,
    desk_views,
    evidence_views,
    intake_api,
    intake_api_docs,
    intake_panels,
    intake_views,
    invitations,
    lookup_views,
    panel_members,
    panels,
    profile_views,
    reminders,
    roster_api_docs,
    roster_views,
    staff_calendar,
    views,
)

CASE = r"/cases/{case_id:\d{1,9}}"


def setup(app: web.Application) -> None:
    """Registers booking's routes, case panels and job handlers."""
    app.router.add_get("/apply", intake_views.apply_form, name="apply")
    app.router.add_post("/apply", intake_views.apply_submit)
    app.router.add_get(f"{CASE}/book", views.book_page)
    app.router.add_post(f"{CASE}/appointments", views.book_submit)
    app.router.add_post(rf"{CASE}/appointments/{{appointment_id:\d{{1,9}}}}/cancel", views.cancel)
    app.router.add_post(
        rf"{CASE}/appointments/{{appointment_id:\d{{1,9}}}}/reschedule", views.reschedule
    )
    app.router.add_get(
        rf"{CASE}/appointments/{{appointment_id:\d{{1,9}}}}/calendar.ics", views.calendar_file
    )
    app.router.add_get(f"{CASE}/invitations", views.invitations)
    app.router.add_post(f"{CASE}/invitations", views.reissue)

    app.router.add_post("/api/v1/cases", intake_api.create_case)
    app.router.add_get("/api/v1/mediators", api.list_mediators)
    app.router.add_get(r"/api/v1/mediators/{mediator_id:\d{1,9}}/slots", api.mediator_slots)
    app.router.add_post("/api/v1/appointments", api.create_appointment)
    app.router.add_get("/api/v1/slots", api.find_slots)
    appointment = r"/api/v1/appointments/{appointment_id:\d{1,9}}"
    app.router.add_post(f"{appointment}/reschedule", api.reschedule_appointment)
    app.router.add_post(f"{appointment}/cancel", api.cancel_appointment)
    app.router.add_post(f"{appointment}/no-show", api.mark_no_show)
    intake_routes(app)
    clinic_routes(app)
    api_docs.setup(app)

    panels.setup(app)
    intake_panels.setup(app)
    reminders.setup(app)
    desk_views.setup(app, CASE)
    desk_api.setup(app)
    clocks.setup(app)
    aftercare_views.setup(app)
    invitations.setup(app)
    roster_routes(app)


EVIDENCE = rf"{CASE}/evidence"
EVIDENCE_ITEM = rf"{EVIDENCE}/{{evidence_id:\d{{1,9}}}}"


def intake_routes(app: web.Application) -> None:
    """Applications, evidence and progress lookup (issue 6)."""
    app.router.add_get("/lookup", lookup_views.lookup_form, name="lookup")
    app.router.add_post("/lookup", lookup_views.lookup_submit)
    app.router.add_post(EVIDENCE, evidence_views.upload, name="evidence_upload")
    app.router.add_get(EVIDENCE_ITEM, evidence_views.download)
    app.router.add_post("/api/v1/applications", intake_api.create_application)
    app.router.add_post("/api/v1/applications/codes", intake_api.request_application_code)
    app.router.add_post(f"/api/v1{EVIDENCE}", evidence_views.upload, name="api_evidence_upload")
    app.router.add_get(f"/api/v1{EVIDENCE}", evidence_views.listing)
    app.router.add_get(f"/api/v1{EVIDENCE_ITEM}", evidence_views.download)
    app.router.add_post("/api/v1/lookup/codes", lookup_views.api_lookup_code)
    app.router.add_post("/api/v1/lookup", lookup_views.api_lookup)
    limit = evidence_views.upload_limit(app[settings_key].evidence_max_bytes)
    for name in ("evidence_upload", "api_evidence_upload"):
        allow_body(app, name, limit)
    public = ("applications", "applications/codes", "lookup/codes", "lookup")
    for path in (f"/api/v1/{name}" for name in public):
        allow_anonymous(app, path)
    intake_api_docs.setup(app)


def clinic_routes(app: web.Application) -> None:
    """The appointment clinic (预约门诊): duty sessions and the parties' places."""
    app.router.add_get("/clinic", clinic_views.clinic_page, name="clinic")
    app.router.add_post("/clinic", clinic_views.clinic_submit)
    place = r"/clinic/p/{token:[A-Za-z0-9_-]{16,128}}"
    app.router.add_get(place, clinic_views.place_page)
    app.router.add_post(f"{place}/cancel", clinic_views.place_cancel)
    app.router.add_get("/clinic/sessions", clinic_staff_views.sessions_page)
    app.router.add_post("/clinic/sessions", clinic_staff_views.create_session)
    app.router.add_get(r"/clinic/sessions/{session_id:\d{1,9}}", clinic_staff_views.session_page)
    app.router.add_get("/api/v1/clinic/sessions", clinic_api.list_sessions)
    app.router.add_post("/api/v1/clinic/sessions", clinic_api.create_session)
    app.router.add_get(
        r"/api/v1/clinic/sessions/{session_id:\d{1,9}}/places", clinic_api.session_places
    )
    app.router.add_post("/api/v1/clinic/codes", clinic_api.request_code)
    app.router.add_post("/api/v1/clinic/places", clinic_api.book_place)
    app.router.add_post("/api/v1/clinic/cancellations", clinic_api.cancel_place)
    for path in ("codes", "places", "cancellations"):
        allow_anonymous(app, f"/api/v1/clinic/{path}")
    clinic_api_docs.setup(app)


def roster_routes(app: web.Application) -> None:
    """The roster and choice of mediator, auto-assignment, availability, calendar (issue 7)."""
    app.router.add_get("/roster", roster_views.roster_page, name="roster")
    app.router.add_get(r"/roster/{staff_id:\d{1,9}}/photo", roster_views.photo)
    app.router.add_get("/api/v1/roster", roster_views.roster_api)
    roster_api_docs.setup(app)
    choice.setup(app, CASE)
    app.router.add_get(r"/staff/{staff_id:\d{1,9}}/profile", profile_views.profile_form)
    app.router.add_post(r"/staff/{staff_id:\d{1,9}}/profile", profile_views.profile_submit)
    app.router.add_get("/calendar", staff_calendar.calendar_page, name="calendar")
    availability = r"/staff/{staff_id:\d{1,9}}/availability"
    app.router.add_get(availability, availability_views.availability_form)
    app.router.add_post(availability, availability_views.availability_submit)
    panel_members.setup(app, CASE)
