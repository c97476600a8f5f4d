from aiohttp import web

from app.jobs import register
from app.panels import add_panel
from documents import api, views
from documents.sealed import resources, seal_job


def setup(app: web.Application) -> None:
    """Registers documents' routes, case panel, job handler and resources."""
    app.cleanup_ctx.append(resources)
    add_panel(app, views.panel)
    register(app, "seal_agreement", seal_job)
    r = app.router
    r.add_get(r"/cases/{case_id:\d{1,9}}/agreement", views.draft_form)
    r.add_post(r"/cases/{case_id:\d{1,9}}/agreement", views.draft)
    r.add_post(r"/cases/{case_id:\d{1,9}}/filing", views.file_for_confirmation)
    r.add_get(r"/agreements/{agreement_id:\d{1,9}}", views.sign_page)
    r.add_post(r"/agreements/{agreement_id:\d{1,9}}/signatures", views.sign)
    r.add_get(r"/agreements/{agreement_id:\d{1,9}}/pdf", views.download)
    r.add_get(r"/verify/{version_hash:[0-9a-f]{64}}", views.verify_page)
    r.add_post("/verify", views.verify_upload)
    r.add_get("/court/inbox", views.court_inbox)
    r.add_post(r"/court/filings/{filing_id:\d{1,9}}/decision", views.decide)
    api.setup(app)
