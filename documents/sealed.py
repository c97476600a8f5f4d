"""The sealed PDF of an effective agreement: render (WeasyPrint pool) → seal (pyHanko) → store.
Also owns the app's render pool and seal key."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db import sessionmaker_key, transaction
from app.errors import Conflict, NotFound
from app.factory_keys import executor_key
from app.i18n import N_
from app.labels import label
from app.settings import settings_key
from documents.models import Agreement, SealedPdf, Signature
from documents.pdf import AgreementDoc, PartyLine, PdfRenderer
from documents.seal import SealCheck, SealKey, ensure_dev_key, load_key, seal_pdf, verify_pdf

renderer_key = web.AppKey("pdf_renderer", PdfRenderer)
seal_key_key = web.AppKey("seal_key", SealKey)
DEV_SEAL_NAME = "在线调解平台"


async def resources(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the render pool (processes start on first use) and the seal key."""
    settings = app[settings_key]
    loop = asyncio.get_running_loop()
    if settings.seal_key_file and settings.seal_cert_file:
        app[seal_key_key] = load_key(
            settings.seal_key_file.read_bytes(), settings.seal_cert_file.read_bytes()
        )
    else:
        app[seal_key_key] = await loop.run_in_executor(
            None, ensure_dev_key, settings.var_dir / "keys", DEV_SEAL_NAME
        )
    app[renderer_key] = PdfRenderer(max_workers=settings.pdf_workers)
    yield
    await loop.run_in_executor(None, app[renderer_key].close)


def verify_url(app: web.Application, agreement: Agreement) -> str:
    return f"{app[settings_key].base_url}/verify/{agreement.version_hash}"


def agreement_doc(
    app: web.Application, agreement: Agreement, signatures: dict[str, Signature]
) -> AgreementDoc:
    content = agreement.content
    lines = []
    for party in content["parties"]:
        signature = signatures.get(f"party:{party['id']}")
        lines.append(
            PartyLine(
                name=party["name"],
                role=label("role", party["role"], "zh_CN"),
                id_masked=party["id_masked"],
                phone_masked=party["phone_masked"],
                address=party["address"],
                signature_png=signature.image_png if signature else None,
                signed_at=signature.signed_at if signature else None,
            )
        )
    mediator = content.get("mediator") or {}
    mediator_signature = signatures.get(f"staff:{mediator.get('id')}")
    return AgreementDoc(
        org_name=content["organization"],
        case_number=content["case"]["number"] or "",
        dispute_type=label("dispute", content["case"]["dispute_type"], "zh_CN"),
        parties=tuple(lines),
        facts=content["facts"],
        terms=tuple(content["terms"]),
        performance=content["performance"],
        performance_deadline=date.fromisoformat(content["performance_deadline"]),
        mediator_name=mediator.get("name", ""),
        version=agreement.version,
        version_hash=agreement.version_hash,
        verify_url=verify_url(app, agreement),
        effective_at=agreement.effective_at,
        mediator_signature_png=mediator_signature.image_png if mediator_signature else None,
    )


def _attachment(agreement: Agreement, signatures: dict[str, Signature]) -> bytes:
    """The agreement's data, machine-readable, embedded in the PDF/A-3 file."""
    data: dict[str, Any] = {
        "agreement": agreement.content,
        "version_hash": agreement.version_hash,
        "effective_at": _iso(agreement.effective_at),
        "signatures": [
            {
                "signer": s.signer,
                "signed_at": _iso(s.signed_at),
                "version_hash": s.version_hash,
                "image_sha256": s.evidence.get("image_sha256"),
            }
            for s in signatures.values()
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def sealed_pdf(app: web.Application, agreement_id: int) -> SealedPdf:
    """The stored sealed PDF, producing it on first request (safe to race: one insert wins)."""
    async with app[sessionmaker_key]() as db:
        existing = await db.scalar(select(SealedPdf).where(SealedPdf.agreement_id == agreement_id))
        if existing is not None:
            return existing
        agreement = await db.get(Agreement, agreement_id)
        if agreement is None:
            raise NotFound(N_("This agreement does not exist."))
        if agreement.status != "effective":
            raise Conflict(N_("The PDF is available once every signatory has signed."))
        rows = await db.scalars(select(Signature).where(Signature.agreement_id == agreement_id))
        signatures = {s.signer: s for s in rows}
    doc = agreement_doc(app, agreement, signatures)
    attachment = ("agreement.json", _attachment(agreement, signatures), "调解协议数据 (JSON)")
    pdf = await app[renderer_key].render(doc, [attachment])
    loop = asyncio.get_running_loop()
    sealed = await loop.run_in_executor(app[executor_key], seal_pdf, pdf, app[seal_key_key])
    try:
        async with transaction(app) as db:
            row = SealedPdf(
                agreement_id=agreement_id, pdf=sealed, sha256=hashlib.sha256(sealed).hexdigest()
            )
            db.add(row)
        return row
    except IntegrityError:
        async with app[sessionmaker_key]() as db:
            found = await db.scalar(select(SealedPdf).where(SealedPdf.agreement_id == agreement_id))
            assert found is not None
            return found


async def check_seal(app: web.Application, pdf: bytes) -> SealCheck:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        app[executor_key], verify_pdf, pdf, app[seal_key_key].cert_pem
    )


async def seal_job(app: web.Application, payload: dict[str, Any]) -> None:
    await sealed_pdf(app, int(payload["agreement_id"]))
