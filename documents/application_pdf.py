"""The sealed PDF of a joint application every party signed: the text exactly as signed, each
applicant's drawn signature with its evidence, rendered in the PDF render workers and sealed
with the committee's key in the executor (never on the event loop), stored, recorded once."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from hashlib import sha256
from typing import Any

import jinja2
from aiohttp import web

from app.db import sessionmaker_key, transaction
from app.factory_keys import executor_key
from app.jobs import register
from app.models import Case, Organization
from app.settings import ROOT, settings_key
from app.storage import storage_key
from documents.application import (
    SEAL_APPLICATION,
    do_sealed,
    signatures_of,
    signer_keys,
)
from documents.case_documents import local_datetime
from documents.models import ApplicationSignature, JointApplication
from documents.pdf import seal_chars
from documents.qr import qr_data_uri
from documents.seal import seal_pdf
from documents.sealed import org_seal, renderer_key

TEMPLATE = "documents/application_pdf.html"


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _signed_line(signature: ApplicationSignature | None) -> dict[str, Any]:
    if signature is None:
        return {"png": None, "signed_at": "", "step_up": "", "image_sha256": ""}
    step = signature.evidence.get("step_up") or {}
    return {
        "png": "data:image/png;base64," + base64.b64encode(signature.image_png).decode(),
        "signed_at": local_datetime(signature.signed_at),
        "step_up": f"短信验证码（{step.get('phone_masked')}，验证记录 #{step.get('code_id')}）"
        if step.get("method") == "sms"
        else "",
        "image_sha256": str(signature.evidence.get("image_sha256", "")),
    }


def application_html(
    content: dict[str, Any],
    version_hash: str,
    signatures: dict[str, dict[str, Any]],
    verify_url: str,
    sealed_on: str,
) -> str:
    qr = qr_data_uri(verify_url)
    doc = {"org_name": content["organization"], "case_number": content["case"]["number"]}
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            doc=doc,
            content=content,
            version_hash=version_hash,
            signatures=signatures,
            version=1,
            verify_url=verify_url,
            qr_src=qr,
            sealed_on=sealed_on,
            seal_chars=seal_chars(content["organization"]),
        )
    )


async def _render_and_seal(
    app: web.Application,
    application: JointApplication,
    signatures: dict[str, ApplicationSignature],
    org: Organization,
) -> bytes:
    loop = asyncio.get_running_loop()
    settings = app[settings_key]
    lines = {key: _signed_line(signatures.get(key)) for key in signer_keys(application)}
    url = f"{settings.public_base_url or settings.base_url}/verify"
    html = await loop.run_in_executor(
        app[executor_key],
        application_html,
        application.content,
        application.version_hash,
        lines,
        url,
        application.content["date"],
    )
    data = {
        "application": application.content,
        "version_hash": application.version_hash,
        "signatures": [
            {
                "signer": s.signer,
                "signed_at": s.signed_at.isoformat(),
                "version_hash": s.version_hash,
                "image_sha256": s.evidence.get("image_sha256"),
            }
            for s in signatures.values()
        ],
    }
    attachment = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()
    pdf = await app[renderer_key].render_html(
        html, [("application.json", attachment, "司法确认申请书数据 (JSON)")]
    )
    key = await org_seal(app, org)
    seal = functools.partial(seal_pdf, key=key, reason="司法确认申请书", tsa_url=settings.tsa_url)
    return await loop.run_in_executor(app[executor_key], seal, pdf)


async def seal_application(app: web.Application, application_id: int) -> bool:
    """Render, seal, store and record the application; False when already done (or void)."""
    async with app[sessionmaker_key]() as db:
        application = await db.get(JointApplication, application_id)
        if application is None or application.status != "sealing":
            return False
        signatures = await signatures_of(db, application.id)
        case = await db.get(Case, application.case_id)
        assert case is not None
        org = await db.get(Organization, case.org_id)
        assert org is not None
    sealed = await _render_and_seal(app, application, signatures, org)
    digest = sha256(sealed).hexdigest()
    key = f"cases/{application.case_id}/applications/{application.id}-{digest[:16]}.pdf"
    storage = app[storage_key]
    await storage.put(key, sealed)
    try:
        async with transaction(app) as db:
            won = await do_sealed(db, application, digest, key)
    except BaseException:
        await storage.delete(key)  # no file outlives a failed transaction
        raise
    if not won:
        await storage.delete(key)
    return won


async def _job(app: web.Application, payload: dict[str, Any]) -> None:
    await seal_application(app, int(payload["application_id"]))


def setup(app: web.Application) -> None:
    register(app, SEAL_APPLICATION, _job)
