"""The sealed PDF of an agreement every signer signed: render (WeasyPrint pool) → seal with the
organisation's key (pyHanko) → store, and only then effective (art. 29). Also owns the app's
render pool and the organisations' seal keys."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from hashlib import sha256
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, transaction, utcnow
from app.errors import Conflict, NotFound
from app.factory_keys import executor_key
from app.i18n import N_
from app.labels import label
from app.models import Case, Organization
from app.settings import settings_key
from documents.boilerplate import boilerplate_fields
from documents.court_clocks import RestDays
from documents.keys import SealKeys, seal_keys_key
from documents.models import Agreement, CaseDocument, CourtFiling, SealedPdf, Signature
from documents.pdf import (
    AgreementDoc,
    EvidenceLine,
    PartyLine,
    PdfRenderer,
    TermDetail,
    format_datetime,
)
from documents.seal import SealCheck, SealKey, verify_pdf
from documents.services import do_take_effect, signatures_of, signer_keys, signer_name

renderer_key = web.AppKey("pdf_renderer", PdfRenderer)
log = logging.getLogger(__name__)


async def resources(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the render pool (processes start on first use) and the organisations' seals."""
    settings = app[settings_key]
    app[seal_keys_key] = SealKeys(settings)
    app[renderer_key] = PdfRenderer(
        max_workers=settings.pdf_workers, max_tasks_per_child=settings.pdf_worker_tasks
    )
    yield
    await asyncio.get_running_loop().run_in_executor(None, app[renderer_key].close)


async def org_seal(app: web.Application, org: Organization) -> SealKey:
    """The organisation's seal (generated on first use in development): read in the executor."""
    loop = asyncio.get_running_loop()
    keys = app[seal_keys_key]
    return await loop.run_in_executor(app[executor_key], keys.for_org, org.id, org.name)


def verify_url(app: web.Application, agreement: Agreement) -> str:
    """What the QR code opens: on the public address, which may differ from the staff one."""
    return f"{app[settings_key].public_url}/verify/{agreement.version_hash}"


SEXES_ZH = {"male": "男", "female": "女"}
AUTHORITY_ZH = {"general": "一般授权", "special": "特别授权"}


def party_line(party: dict[str, Any], signature: Signature | None) -> PartyLine:
    agent = party.get("agent") or {}
    birth = party.get("birth_date")
    return PartyLine(
        name=party["name"],
        role=label("role", party["role"], "zh_CN"),
        id_masked=party["id_masked"],
        phone_masked=party["phone_masked"],
        address=party["address"],
        signature_png=signature.image_png if signature else None,
        signed_at=signature.signed_at if signature else None,
        kind=party.get("kind", "person"),
        sex=SEXES_ZH.get(party.get("sex") or "", ""),
        ethnicity=party.get("ethnicity") or "",
        birth_date=date.fromisoformat(birth) if birth else None,
        occupation=party.get("occupation") or "",
        credit_code=party.get("credit_code") or "",
        representative=party.get("representative") or "",
        agent=f"{agent['name']}（{AUTHORITY_ZH.get(agent.get('authority', ''), '')}）"
        if agent.get("name")
        else "",
    )


def term_details(content: dict[str, Any]) -> tuple[TermDetail, ...]:
    names = {p["id"]: p["name"] for p in content["parties"]}
    return tuple(
        TermDetail(
            amount=Decimal(d["amount"]) if d.get("amount") else None,
            payer=names.get(d.get("payer"), ""),
            payee=names.get(d.get("payee"), ""),
            deadline=date.fromisoformat(d["deadline"]) if d.get("deadline") else None,
            manner=d.get("manner") or "",
        )
        for d in content.get("term_details", ())
    )


def content_doc(
    content: dict[str, Any],
    version: int,
    version_hash: str,
    verify_url: str,
    signatures: dict[str, Signature],
    effective_at: datetime | None = None,
) -> AgreementDoc:
    """The printable agreement from a version's content (drafts before issue 9's structured
    fields print as they always did)."""
    mediator = content.get("mediator") or {}
    mediator_signature = signatures.get(f"staff:{mediator.get('id')}")
    return AgreementDoc(
        org_name=content["organization"],
        case_number=content["case"]["number"] or "",
        dispute_type=label("dispute", content["case"]["dispute_type"], "zh_CN"),
        parties=tuple(
            party_line(p, signatures.get(f"party:{p['id']}")) for p in content["parties"]
        ),
        facts=content["facts"],
        terms=tuple(content["terms"]),
        performance=content["performance"],
        performance_deadline=date.fromisoformat(content["performance_deadline"]),
        mediator_name=mediator.get("name", ""),
        version=version,
        version_hash=version_hash,
        verify_url=verify_url,
        effective_at=effective_at,
        mediator_signature_png=mediator_signature.image_png if mediator_signature else None,
        disputes=content.get("disputes", ""),
        responsibility=content.get("responsibility", ""),
        term_details=term_details(content),
        **boilerplate_fields(content),
    )


def agreement_doc(
    app: web.Application,
    agreement: Agreement,
    signatures: dict[str, Signature],
    effective_at: datetime | None = None,
) -> AgreementDoc:
    """The printable agreement; with `effective_at` it carries the committee's seal image and
    the evidence page."""
    doc = content_doc(
        agreement.content,
        agreement.version,
        agreement.version_hash,
        verify_url(app, agreement),
        signatures,
        effective_at or agreement.effective_at,
    )
    if not effective_at:
        return doc
    evidence = tuple(
        evidence_line(signer_name(agreement, key), signatures[key])
        for key in signer_keys(agreement)
        if key in signatures
    )
    return dataclasses.replace(doc, evidence=evidence)


def evidence_line(name: str, signature: Signature) -> EvidenceLine:
    ev = signature.evidence
    step = ev.get("step_up") or {}
    if step.get("method") == "sms":
        verified = datetime.fromisoformat(step["verified_at"])
        step_up = (
            f"短信验证码（发送至 {step.get('phone_masked')}，验证记录 #{step.get('code_id')}，"
            f"验证于 {format_datetime(verified)}）"
        )
    else:
        step_up = "调解员登录会话（未登记手机号）"
    return EvidenceLine(
        name=name,
        signed_at=signature.signed_at,
        step_up=step_up,
        client=f"{ev.get('ip') or '—'} · {ev.get('user_agent') or '—'}"[:200],
        session=f"会话 #{ev.get('session_id') or '—'} · 邀请链接 #{ev.get('link_id') or '—'}",
        version_hash=signature.version_hash,
        image_sha256=str(ev.get("image_sha256", "")),
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
    """The stored sealed PDF of an effective agreement."""
    async with app[sessionmaker_key]() as db:
        row = await db.scalar(select(SealedPdf).where(SealedPdf.agreement_id == agreement_id))
        if row is not None:
            return row
        if await db.get(Agreement, agreement_id) is None:
            raise NotFound(N_("This agreement does not exist."))
    raise Conflict(N_("The PDF is available once everyone has signed and the seal is applied."))


async def seal_agreement(app: web.Application, agreement_id: int) -> bool:
    """Render the signed agreement with the committee's seal image, seal it with the
    organisation's key, then make it effective — once, however often the job runs."""
    async with app[sessionmaker_key]() as db:
        agreement = await db.get(Agreement, agreement_id)
        if agreement is None or agreement.status != "sealing":
            return False
        signatures = await signatures_of(db, agreement_id)
        case = await db.get(Case, agreement.case_id)
        assert case is not None
        org = await db.get(Organization, case.org_id)
        assert org is not None
    effective_at = utcnow()
    sealed = await _render_and_seal(app, agreement, signatures, org, effective_at)
    async with transaction(app) as db:
        row = await db.get(Agreement, agreement_id)
        assert row is not None
        rest = RestDays.of(app[settings_key])
        if not await do_take_effect(db, row, effective_at, rest):
            return False
        db.add(SealedPdf(agreement_id=row.id, pdf=sealed, sha256=sha256(sealed).hexdigest()))
    return True


async def _render_and_seal(
    app: web.Application,
    agreement: Agreement,
    signatures: dict[str, Signature],
    org: Organization,
    effective_at: datetime,
) -> bytes:
    doc = agreement_doc(app, agreement, signatures, effective_at)
    agreement.effective_at = effective_at  # what the attachment records (not flushed)
    attachment = ("agreement.json", _attachment(agreement, signatures), "调解协议数据 (JSON)")
    key = await org_seal(app, org)
    renderer = app[renderer_key]
    started = time.perf_counter()
    sealed = await renderer.render_and_seal(doc, [attachment], key, app[settings_key].tsa_url)
    log.info(
        "agreement %s rendered and sealed in %.0f ms (%.0f ms of worker CPU); "
        "render worker peak RSS %d kB",
        agreement.id,
        (time.perf_counter() - started) * 1000,
        renderer.worker_cpu_ms,
        renderer.worker_peak_rss_kb,
    )
    return sealed


async def check_seal(app: web.Application, pdf: bytes) -> SealCheck:
    """Checks the seal against every organisation's seal certificate this installation holds."""
    loop = asyncio.get_running_loop()
    roots = await loop.run_in_executor(app[executor_key], app[seal_keys_key].trust_roots)
    return await loop.run_in_executor(app[executor_key], verify_pdf, pdf, roots)


@dataclass(frozen=True)
class OnRecord:
    """An uploaded file that is byte for byte the sealed PDF we stored, and who signed it."""

    case_number: str
    version: int
    effective_at: datetime | None
    signers: list[tuple[str, datetime]]


async def on_record(app: web.Application, pdf: bytes) -> OnRecord | None:
    digest = sha256(pdf).hexdigest()
    async with app[sessionmaker_key]() as db:
        row = await db.scalar(select(SealedPdf).where(SealedPdf.sha256 == digest))
        agreement = await db.get(Agreement, row.agreement_id) if row else None
        if agreement is None:
            return await _case_document_on_record(db, digest)
        signatures = await signatures_of(db, agreement.id)
    signers = [
        (signer_name(agreement, key), signatures[key].signed_at)
        for key in signer_keys(agreement)
        if key in signatures
    ]
    number = agreement.content["case"]["number"] or ""
    return OnRecord(number, agreement.version, agreement.effective_at, signers)


async def _case_document_on_record(db: AsyncSession, digest: str) -> OnRecord | None:
    """Minutes, outcome documents and archives (documents/case_pdf.py) are on record too, and
    the court's rulings (documents/ruling.py), under the court's case number."""
    document = await db.scalar(select(CaseDocument).where(CaseDocument.sha256 == digest))
    if document is not None:
        return OnRecord(document.content["case_number"], document.version, document.sealed_at, [])
    filing = await db.scalar(select(CourtFiling).where(CourtFiling.ruling_sha256 == digest))
    if filing is None:
        return None
    return OnRecord(filing.court_case_number or "", 1, filing.ruling_sealed_at, [])


async def verify_report(app: web.Application, pdf: bytes) -> dict[str, Any]:
    """What `python -m app verify FILE` prints: the seal, changes after it, the record."""
    check = await check_seal(app, pdf)
    record = await on_record(app, pdf)
    return {
        "valid": check.ok(),
        "sealed": check.sealed,
        "intact": check.intact,
        "trusted": check.trusted,
        "sealed_by": check.signer,
        "sealed_at": _iso(check.signed_at),
        "timestamped_at": _iso(check.timestamped_at),
        "revisions_after_seal": check.later_revisions,
        "on_record": record is not None,
        "case_number": record.case_number if record else None,
        "version": record.version if record else None,
        "signed_by": [{"name": n, "signed_at": _iso(at)} for n, at in record.signers]
        if record
        else [],
    }


async def seal_job(app: web.Application, payload: dict[str, Any]) -> None:
    await seal_agreement(app, int(payload["agreement_id"]))
