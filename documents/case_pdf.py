"""Rendering, sealing and storing a case document (documents/case_documents.py) — once.

The HTML goes through the agreement's render workers (`PdfRenderer.render_html`) and the seal
through the agreement's `seal_pdf` with the organisation's key, in the app's executor. The
sealed file is kept by app/storage.py under a key naming its hash; the row is filled by a
conditional update, so of two runs of the job one wins and the other removes its own file.
"""

from __future__ import annotations

import asyncio
import functools
import json
from hashlib import sha256
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import issue_party_link
from app.db import sessionmaker_key, transaction, utcnow
from app.factory_keys import executor_key
from app.i18n import N_, translate
from app.jobs import register
from app.models import Case, Organization
from app.notify import send_sms
from app.services import parties_of, record_event
from app.settings import ROOT, Settings, settings_key
from app.storage import keep_once, storage_key
from documents.archive import archive_at_closing
from documents.case_documents import PARTY_KINDS, RENDER_JOB, outcome_document, unsealed
from documents.models import CaseDocument
from documents.pdf import seal_chars
from documents.qr import qr_data_uri
from documents.seal import seal_pdf
from documents.sealed import org_seal, renderer_key

TEMPLATES = {"archive": "documents/archive_pdf.html"}
DEFAULT_TEMPLATE = "documents/case_document_pdf.html"
NOTICE_SMS = N_(
    "The termination notice of case {number} (People's Mediation Law art. 26) is ready, with "
    "the other routes open to you: arbitration, the administrative authorities, or a lawsuit. "
    "Read and download it here: {link}"
)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def document_html(document: CaseDocument, verify_url: str, sealed_on: str) -> str:
    """The printable page: everything inline (fonts by name, the QR code as a data URI)."""
    qr = qr_data_uri(verify_url)
    template = _environment().get_template(TEMPLATES.get(document.kind, DEFAULT_TEMPLATE))
    return template.render(
        doc=document.content,
        kind=document.kind,
        version=document.version,
        verify_url=verify_url,
        qr_src=qr,
        sealed_on=sealed_on,
        seal_chars=seal_chars(document.content["org_name"]),
    )


def document_verify_url(settings: Settings) -> str:
    """What a case document's QR code opens (the upload form of the verification page)."""
    return f"{settings.public_url}/verify"


def _attachment(document: CaseDocument) -> tuple[str, bytes, str]:
    data = {"kind": document.kind, "version": document.version, "content": document.content}
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()
    return (f"{document.kind}.json", body, "文书数据 (JSON)")


async def _sealed_pdf(app: web.Application, document: CaseDocument, org: Organization) -> bytes:
    loop = asyncio.get_running_loop()
    verify_url = document_verify_url(app[settings_key])
    # Template and QR code in the app's executor, PDF in the render workers, seal in the executor:
    # nothing of it on the event loop.
    html = await loop.run_in_executor(
        app[executor_key], document_html, document, verify_url, document.content["date"]
    )
    pdf = await app[renderer_key].render_html(html, [_attachment(document)])
    key = await org_seal(app, org)
    seal = functools.partial(seal_pdf, key=key, tsa_url=app[settings_key].tsa_url)
    return await loop.run_in_executor(app[executor_key], seal, pdf)


async def produce(app: web.Application, document_id: int) -> bool:
    """Render, seal and store the document; False when it was already done (or is gone)."""
    async with app[sessionmaker_key]() as db:
        document = await db.get(CaseDocument, document_id)
        if document is None or document.sha256 is not None:
            return False
        case = await db.get(Case, document.case_id)
        org = await db.get(Organization, case.org_id) if case else None
    if org is None:
        return False
    sealed = await _sealed_pdf(app, document, org)
    digest = sha256(sealed).hexdigest()
    key = (
        f"cases/{document.case_id}/documents/{document.kind}-v{document.version}-{digest[:16]}.pdf"
    )
    record = functools.partial(_record_sealed, app, document, digest, key)
    return await keep_once(app[storage_key], key, sealed, record)


async def _record_sealed(
    app: web.Application, document: CaseDocument, digest: str, key: str
) -> bool:
    async with transaction(app) as db:
        changed = await db.execute(
            update(CaseDocument)
            .where(CaseDocument.id == document.id, CaseDocument.sha256.is_(None))
            .values(sha256=digest, storage_key=key, sealed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        data = {"kind": document.kind, "version": document.version, "sha256": digest}
        public = document.kind in PARTY_KINDS  # the archive is the committee's own file
        await record_event(db, document.case_id, "document_sealed", "system", data, public=public)
        if document.kind == "termination":
            await _send_notice(app, db, document.case_id)
    return True


async def _send_notice(app: web.Application, db: AsyncSession, case_id: int) -> None:
    """Art. 26: each party gets a fresh link to the case page, where the notice is listed."""
    settings = app[settings_key]
    case = await db.get(Case, case_id)
    assert case is not None
    for party in await parties_of(db, case_id):
        token = await issue_party_link(db, party.id, settings.party_link_days)
        body = translate(
            NOTICE_SMS,
            "zh_CN",
            number=case.number or case.id,
            link=f"{settings.public_url}/p/{token}",
        )
        await send_sms(db, party.phone, body, case_id)


async def _render_job(app: web.Application, payload: dict[str, Any]) -> None:
    await produce(app, int(payload["document_id"]))


async def _outcome_job(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:  # requests the document; its render job follows
        await outcome_document(db, int(payload["case_id"]))


async def _archive_job(app: web.Application, payload: dict[str, Any]) -> None:
    """The archive at closing lists every other document with its hash, so the outcome's
    document is requested and anything still unsealed is produced first (both idempotent)."""
    case_id = int(payload["case_id"])
    async with transaction(app) as db:
        await outcome_document(db, case_id)
        pending = await unsealed(db, case_id)
    for document_id in pending:
        await produce(app, document_id)
    async with transaction(app) as db:
        await archive_at_closing(db, case_id)


def setup(app: web.Application) -> None:
    register(app, RENDER_JOB, _render_job)
    register(app, "outcome_documents", _outcome_job)
    register(app, "archive_case", _archive_job)
