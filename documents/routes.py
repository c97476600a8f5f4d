from aiohttp import web

from app.jobs import register
from app.panels import add_panel
from documents import (
    api,
    application_pdf,
    application_views,
    case_document_api,
    case_document_views,
    case_pdf,
    court,
    draft_api,
    draft_views,
    packet,
    packet_views,
    ruling,
    template_admin,
    views,
)
from documents.court_clocks import FILING_REMINDER
from documents.sealed import resources, seal_job


def setup(app: web.Application) -> None:
    """Registers documents' routes, case panel, job handler and resources."""
    app.cleanup_ctx.append(resources)
    add_panel(app, views.panel)
    register(app, "seal_agreement", seal_job)
    register(app, FILING_REMINDER, court.remind_to_file)
    r = app.router
    r.add_get(r"/cases/{case_id:\d{1,9}}/agreement", draft_views.draft_form)
    r.add_post(r"/cases/{case_id:\d{1,9}}/agreement", draft_views.draft)
    r.add_post(r"/cases/{case_id:\d{1,9}}/agreement/preview", draft_views.preview)
    r.add_get(r"/cases/{case_id:\d{1,9}}/agreement/versions", draft_views.compare)
    r.add_post(r"/cases/{case_id:\d{1,9}}/agreement/performance", draft_views.derive_items)
    r.add_post(r"/cases/{case_id:\d{1,9}}/filing", views.file_for_confirmation)
    r.add_get(r"/agreements/{agreement_id:\d{1,9}}", views.sign_page)
    r.add_post(r"/agreements/{agreement_id:\d{1,9}}/signatures", views.sign)
    r.add_post(r"/agreements/{agreement_id:\d{1,9}}/code", views.request_code)
    r.add_post(r"/agreements/{agreement_id:\d{1,9}}/declines", views.decline)
    r.add_get(r"/agreements/{agreement_id:\d{1,9}}/pdf", views.download)
    r.add_get(r"/verify/{version_hash:[0-9a-f]{64}}", views.verify_page)
    r.add_post("/verify", views.verify_upload)
    r.add_get("/court/inbox", views.court_inbox)
    r.add_post(
        r"/court/filings/{filing_id:\d{1,9}}/{step:review|decision|extension}", views.court_step
    )
    r.add_post(r"/cases/{case_id:\d{1,9}}/filing/{step:resubmit|withdrawal}", views.filing_step)
    r.add_get(r"/filings/{filing_id:\d{1,9}}/ruling", views.ruling_pdf)
    api.setup(app)
    application_views.setup(app)
    application_pdf.setup(app)
    draft_api.setup(app)
    # Issue 9, part 2: minutes, outcome documents, the archive, and the template store.
    add_panel(app, case_document_views.panel)
    case_pdf.setup(app)
    ruling.setup(app)
    packet.setup(app)
    packet_views.setup(app)
    case_document_api.setup(app)
    template_admin.setup(app)
    r.add_get(r"/cases/{case_id:\d{1,9}}/minutes", case_document_views.minutes_form)
    r.add_post(r"/cases/{case_id:\d{1,9}}/minutes", case_document_views.record_minutes)
    r.add_post(r"/cases/{case_id:\d{1,9}}/archive", case_document_views.request_archive)
    r.add_get(r"/case-documents/{document_id:\d{1,9}}/pdf", case_document_views.download)
