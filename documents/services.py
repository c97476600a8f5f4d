"""Agreements: drafting versions, signing the exact version, taking effect (人民调解法 art. 29)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, PermissionDenied, UserError, ValidationFailed
from app.i18n import N_, SHANGHAI
from app.identity import mask_phone
from app.jobs import enqueue
from app.models import Case, Organization, StaffUser
from app.printable import UNPRINTABLE, single_spaced, unprintable
from app.services import parties_of, record_event
from documents.models import Agreement, Signature

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIGNATURE_BYTES = 300_000
MAX_TERMS = 50


@dataclass(frozen=True)
class Draft:
    facts: str
    terms: tuple[str, ...]
    performance: str
    performance_deadline: date


def check_draft(form: dict[str, str]) -> Draft:
    """The draft as it will be signed and printed: white space normalised here, before anyone
    signs, and characters the PDF cannot print as typed refused (see app/printable.py)."""
    errors: dict[str, str] = {}
    text = {name: single_spaced(form.get(name, "")) for name in ("facts", "terms", "performance")}
    facts = text["facts"]
    if not 10 <= len(facts) <= 10_000:
        errors["facts"] = N_("Please describe the facts in 10 to 10000 characters.")
    terms = tuple(line for line in text["terms"].splitlines() if line)
    if not 1 <= len(terms) <= MAX_TERMS or any(len(t) > 1000 for t in terms):
        errors["terms"] = N_("Please write 1 to 50 terms, one per line.")
    performance = text["performance"]
    if not 2 <= len(performance) <= 1000:
        errors["performance"] = N_("Please say how the agreement will be performed.")
    for name, value in text.items():
        if unprintable(value) is not None:
            errors[name] = UNPRINTABLE
    deadline = None
    try:
        deadline = date.fromisoformat(form.get("performance_deadline", "").strip())
    except ValueError:
        errors["performance_deadline"] = N_("Please enter the performance deadline as a date.")
    if deadline is not None and deadline < utcnow().astimezone(SHANGHAI).date():
        errors["performance_deadline"] = N_("The performance deadline cannot be in the past.")
    if errors or deadline is None:
        raise ValidationFailed(errors)
    return Draft(facts, terms, performance, deadline)


def version_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON: the exact text every signature binds to."""
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _content(db: AsyncSession, case: Case, draft: Draft, version: int) -> dict[str, Any]:
    org = await db.get(Organization, case.org_id)
    mediator = await db.get(StaffUser, case.mediator_id) if case.mediator_id else None
    parties = await parties_of(db, case.id)
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
                "address": p.address,
            }
            for p in parties
        ],
        "facts": draft.facts,
        "terms": list(draft.terms),
        "performance": draft.performance,
        "performance_deadline": draft.performance_deadline.isoformat(),
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
    if case.status not in ("scheduled", "agreement"):
        raise Conflict(N_("An agreement can only be drafted before it has been signed."))
    latest = await db.scalar(
        select(func.coalesce(func.max(Agreement.version), 0)).where(Agreement.case_id == case.id)
    )
    version = int(latest or 0) + 1
    content = await _content(db, case, draft, version)
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
    case.status = "agreement"
    await db.flush()
    await record_event(db, case.id, "agreement_drafted", principal.key, {"version": version})
    return agreement


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


async def do_sign(
    db: AsyncSession,
    principal: Principal,
    agreement: Agreement,
    shown_hash: str,
    png: bytes,
    evidence: dict[str, Any],
) -> Signature:
    if principal.key not in signer_keys(agreement):
        raise PermissionDenied(N_("You are not a signatory of this agreement."))
    # Signers of one agreement queue on the case row: under READ COMMITTED two last signers
    # would each miss the other's signature and the agreement would never take effect.
    await lock_row(db, Case, agreement.case_id)
    await db.refresh(agreement)
    if agreement.status != "signing":
        raise Conflict(N_("This agreement can no longer be signed."))
    if shown_hash != agreement.version_hash:
        raise Conflict(N_("The agreement changed since you opened it. Please read it again."))
    signed = set(
        await db.scalars(select(Signature.signer).where(Signature.agreement_id == agreement.id))
    )
    if principal.key in signed:
        raise Conflict(N_("You have already signed this agreement."))
    signature = Signature(
        agreement_id=agreement.id,
        signer=principal.key,
        version_hash=agreement.version_hash,
        image_png=png,
        evidence={**evidence, "image_sha256": hashlib.sha256(png).hexdigest()},
    )
    db.add(signature)
    await db.flush()
    await record_event(
        db, agreement.case_id, "agreement_signed", principal.key, {"version": agreement.version}
    )
    if signed | {principal.key} >= set(signer_keys(agreement)):
        await _take_effect(db, agreement)
    return signature


async def _take_effect(db: AsyncSession, agreement: Agreement) -> None:
    """Once: the conditional update lets exactly one transaction make it effective."""
    now = utcnow()
    changed = await db.execute(
        update(Agreement)
        .where(Agreement.id == agreement.id, Agreement.status == "signing")
        .values(status="effective", effective_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return
    agreement.status, agreement.effective_at = "effective", now
    case = await db.get(Case, agreement.case_id)
    assert case is not None
    case.status = "signed"
    await record_event(db, case.id, "agreement_effective", "system", {"version": agreement.version})
    await enqueue(db, "seal_agreement", {"agreement_id": agreement.id})


async def signatures_of(db: AsyncSession, agreement_id: int) -> dict[str, Signature]:
    rows = await db.scalars(select(Signature).where(Signature.agreement_id == agreement_id))
    return {row.signer: row for row in rows}
