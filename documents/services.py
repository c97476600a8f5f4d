"""Agreements: drafting versions, signing the exact version, taking effect (人民调解法 art. 29)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, PermissionDenied, UserError
from app.i18n import N_, translate
from app.identity import mask_phone
from app.jobs import enqueue
from app.lifecycle import CaseStatus, advance
from app.models import Case, Organization, StaffUser
from app.notify import send_sms
from app.services import parties_of, record_event
from documents.boilerplate import agreement_boilerplate
from documents.ceremony import DECLINED_ALREADY, declined, phone_on_record
from documents.court_clocks import (
    FILING_REMINDER,
    FILING_REMINDER_BEFORE,
    WEEKENDS_ONLY,
    RestDays,
    filing_closes,
)
from documents.drafting import Draft, check_parties
from documents.drafting import check_draft as check_draft  # the drafting path, re-exported
from documents.models import Agreement, Signature
from documents.parties import agents_of, party_details

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIGNATURE_BYTES = 300_000
SMS_LOCALE = "zh_CN"
CHANGED = N_("The agreement changed since you opened it. Please read it again.")
VOIDED_SMS = N_(
    "The mediation agreement of case {number} was revised, so your signature on the earlier "
    "version no longer counts. Please read the new version and sign it again."
)
RECEIPT_SMS = N_(
    "The mediation agreement of case {number} has been signed by everyone and sealed by "
    "{org}; it is now in effect. Fingerprint {fingerprint}. Keep this message as your receipt."
)


def version_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON: the exact text every signature binds to."""
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def draft_content(db: AsyncSession, case: Case, draft: Draft, version: int) -> dict[str, Any]:
    """The version's content: what is hashed, signed and printed."""
    org = await db.get(Organization, case.org_id)
    mediator = await db.get(StaffUser, case.mediator_id) if case.mediator_id else None
    parties = await parties_of(db, case.id)
    check_parties(draft, {p.id for p in parties})
    agents = await agents_of(db, [p.id for p in parties])
    return {
        "version": version,
        "case": {"id": case.id, "number": case.number, "dispute_type": case.dispute_type},
        "organization": org.name if org else "",
        "mediator": {"id": mediator.id, "name": mediator.display_name} if mediator else None,
        "parties": [
            {
                "id": p.id,
                "role": p.role,
                "name": p.name,
                "id_masked": p.id_masked,
                "phone_masked": mask_phone(p.phone),
                **party_details(p, draft.parties.get(p.id), agents.get(p.id)),
            }
            for p in parties
        ],
        "facts": draft.facts,
        "disputes": draft.disputes,
        "responsibility": draft.responsibility,
        "terms": list(draft.terms),
        "term_details": [term.as_content() for term in draft.structured],
        "performance": draft.performance,
        "performance_deadline": draft.performance_deadline.isoformat(),
        "boilerplate": await agreement_boilerplate(db, case, org.name if org else "", mediator),
    }


async def current_agreement(db: AsyncSession, case_id: int) -> Agreement | None:
    return await db.scalar(
        select(Agreement)
        .where(Agreement.case_id == case_id, Agreement.status != "void")
        .order_by(Agreement.version.desc())
        .limit(1)
    )


def require_mediator(principal: Principal, case: Case) -> None:
    if principal.kind != "staff" or principal.staff_id != case.mediator_id:
        raise PermissionDenied(N_("Only the case's mediator may do this."))


async def do_draft(db: AsyncSession, principal: Principal, case: Case, draft: Draft) -> Agreement:
    """A new version; any earlier version (and every signature on it) becomes void."""
    require_mediator(principal, case)
    # The case row's lock orders drafts and signatures of one case (always case first, then
    # agreement): a signature cannot land on a version that a concurrent revision voids.
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    if case.status not in (CaseStatus.SCHEDULED, CaseStatus.AGREEMENT):
        raise Conflict(N_("An agreement can only be drafted before it has been signed."))
    previous = await current_agreement(db, case.id)
    if previous is not None and previous.status != "signing":
        raise Conflict(N_("An agreement can only be drafted before it has been signed."))
    if previous is not None:
        await _tell_voided_signers(db, case, previous)
    latest = await db.scalar(
        select(func.coalesce(func.max(Agreement.version), 0)).where(Agreement.case_id == case.id)
    )
    version = int(latest or 0) + 1
    content = await draft_content(db, case, draft, version)
    await db.execute(
        update(Agreement)
        .where(Agreement.case_id == case.id, Agreement.status != "void")
        .values(status="void")
    )
    agreement = Agreement(
        case_id=case.id,
        version=version,
        content=content,
        version_hash=version_hash(content),
        created_by=principal.key,
    )
    db.add(agreement)
    await db.flush()
    await advance(
        db, case, CaseStatus.AGREEMENT, principal.key, "agreement_drafted", {"version": version}
    )
    return agreement


async def _tell_voided_signers(db: AsyncSession, case: Case, voided: Agreement) -> None:
    """An edit after a signature voids it (电子签名法 art. 13): each signer is told by SMS."""
    body = translate(VOIDED_SMS, SMS_LOCALE, number=case.number or case.id)
    for signer in await signatures_of(db, voided.id):
        phone = await phone_on_record(db, signer)
        if phone:
            await send_sms(db, phone, body, case.id)


def signer_keys(agreement: Agreement) -> list[str]:
    """Who must sign: every party, then the mediator (art. 29)."""
    keys = [f"party:{p['id']}" for p in agreement.content["parties"]]
    mediator = agreement.content.get("mediator")
    return [*keys, f"staff:{mediator['id']}"] if mediator else keys


def signer_name(agreement: Agreement, key: str) -> str:
    kind, _, ident = key.partition(":")
    if kind == "party":
        return next((p["name"] for p in agreement.content["parties"] if str(p["id"]) == ident), key)
    mediator = agreement.content.get("mediator") or {}
    return str(mediator.get("name", key))


def decode_signature_image(data_url: object) -> bytes:
    if not isinstance(data_url, str) or not data_url.startswith("data:image/png;base64,"):
        raise UserError(N_("Please draw your signature before submitting."))
    try:
        png = base64.b64decode(data_url.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise UserError(N_("The signature image could not be read.")) from None
    if not png.startswith(PNG_MAGIC) or not 100 <= len(png) <= MAX_SIGNATURE_BYTES:
        raise UserError(N_("The signature image could not be read."))
    return png


async def check_may_sign(
    db: AsyncSession, principal: Principal, agreement: Agreement, shown_hash: str | None = None
) -> None:
    """Before a code is sent or spent: a signer of this version (the one shown, when given),
    whose turn it is."""
    if principal.key not in signer_keys(agreement):
        raise PermissionDenied(N_("You are not a signatory of this agreement."))
    if agreement.status != "signing":
        raise Conflict(N_("This agreement can no longer be signed."))
    if shown_hash is not None and shown_hash != agreement.version_hash:
        raise Conflict(CHANGED)
    if await declined(db, agreement, principal.key) is not None:
        raise Conflict(DECLINED_ALREADY)
    signed = set((await signatures_of(db, agreement.id)).keys())
    _check_turn(agreement, principal.key, signed)


async def do_sign(
    db: AsyncSession,
    principal: Principal,
    agreement: Agreement,
    shown_hash: str,
    png: bytes,
    evidence: dict[str, Any],
) -> Signature:
    """Parties sign in any order, the mediator last; the last signature hands the agreement to
    the committee's seal (`sealing`), which makes it effective (art. 29)."""
    if principal.key not in signer_keys(agreement):
        raise PermissionDenied(N_("You are not a signatory of this agreement."))
    # Signers of one agreement queue on the case row: under READ COMMITTED two last signers
    # would each miss the other's signature and the agreement would never take effect.
    await lock_row(db, Case, agreement.case_id)
    await db.refresh(agreement)
    if agreement.status != "signing":
        raise Conflict(N_("This agreement can no longer be signed."))
    if shown_hash != agreement.version_hash:
        raise Conflict(CHANGED)
    signed = set(
        await db.scalars(select(Signature.signer).where(Signature.agreement_id == agreement.id))
    )
    _check_turn(agreement, principal.key, signed)
    signature = Signature(
        agreement_id=agreement.id,
        signer=principal.key,
        version_hash=agreement.version_hash,
        image_png=png,
        evidence={
            **evidence,
            "version_hash": agreement.version_hash,
            "image_sha256": hashlib.sha256(png).hexdigest(),
        },
    )
    db.add(signature)
    await db.flush()
    await record_event(
        db, agreement.case_id, "agreement_signed", principal.key, {"version": agreement.version}
    )
    if signed | {principal.key} >= set(signer_keys(agreement)):
        await _begin_sealing(db, agreement)
    return signature


def is_turn(agreement: Agreement, signer: str, signed: set[str]) -> bool:
    """Whether `signer` may sign now: not yet signed, and the mediator only after the parties."""
    try:
        _check_turn(agreement, signer, signed)
    except Conflict:
        return False
    return True


def _check_turn(agreement: Agreement, signer: str, signed: set[str]) -> None:
    if signer in signed:
        raise Conflict(N_("You have already signed this agreement."))
    parties = {key for key in signer_keys(agreement) if key.startswith("party:")}
    if signer.startswith("staff:") and not parties <= signed:
        raise Conflict(N_("The mediator signs last, after every party has signed."))


async def _begin_sealing(db: AsyncSession, agreement: Agreement) -> None:
    """Once: the conditional update lets exactly one transaction hand it to the seal."""
    changed = await db.execute(
        update(Agreement)
        .where(Agreement.id == agreement.id, Agreement.status == "signing")
        .values(status="sealing")
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return
    agreement.status = "sealing"
    await record_event(
        db, agreement.case_id, "agreement_signed_by_all", "system", {"version": agreement.version}
    )
    await enqueue(db, "seal_agreement", {"agreement_id": agreement.id})


async def do_take_effect(
    db: AsyncSession,
    agreement: Agreement,
    effective_at: datetime,
    rest: RestDays = WEEKENDS_ONLY,
) -> bool:
    """The committee's seal is on: effective, the case SIGNED, a receipt to every signer.
    False when another run of the seal job got there first."""
    await lock_row(db, Case, agreement.case_id)
    changed = await db.execute(
        update(Agreement)
        .where(Agreement.id == agreement.id, Agreement.status == "sealing")
        .values(status="effective", effective_at=effective_at)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    agreement.status, agreement.effective_at = "effective", effective_at
    case = await db.get(Case, agreement.case_id, populate_existing=True)
    assert case is not None
    await advance(
        db, case, CaseStatus.SIGNED, "system", "agreement_effective", {"version": agreement.version}
    )
    await _send_receipts(db, case, agreement)
    # Texted a few days before the 30 days for judicial confirmation end (documents.court).
    # With the configured holidays, as the reminder job and the filing count the 30 days.
    remind_at = filing_closes(effective_at, rest) - FILING_REMINDER_BEFORE
    await enqueue(db, FILING_REMINDER, {"agreement_id": agreement.id}, delay=remind_at - utcnow())
    return True


async def _send_receipts(db: AsyncSession, case: Case, agreement: Agreement) -> None:
    body = translate(
        RECEIPT_SMS,
        SMS_LOCALE,
        number=case.number or case.id,
        org=agreement.content["organization"],
        fingerprint=agreement.version_hash[:16],
    )
    for signer in signer_keys(agreement):
        phone = await phone_on_record(db, signer)
        if phone:
            await send_sms(db, phone, body, case.id)


async def signatures_of(db: AsyncSession, agreement_id: int) -> dict[str, Signature]:
    rows = await db.scalars(select(Signature).where(Signature.agreement_id == agreement_id))
    return {row.signer: row for row in rows}
