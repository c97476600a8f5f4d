"""The signing ceremony: who is signing, what exactly, proven how (电子签名法 art. 13).

Each signer sees their name and the version's hash, proves they hold the phone on record with
an SMS code (`app/otp.py`, purpose ``sign``, one subject per document and signer), accepts the
consent statement and draws a signature — or declines with a reason. The evidence kept with
each signature (time, address, browser, session and link, the verified code, the hash) is what
the evidence page of the PDF prints.

Generic over the signed document: anything with an id, a case, a version hash and a list of
signer keys (``party:7``, ``staff:3``) can hold a ceremony: agreements, and the parties' joint
application for judicial confirmation (documents/application.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row, utcnow
from app.errors import Conflict, PermissionDenied, UserError
from app.i18n import N_, translate
from app.identity import mask_phone
from app.models import Case, Party, PhoneCode, StaffUser, WebSession
from app.otp import issue_code, verify_code
from app.printable import single_spaced, unprintable
from app.services import record_event
from app.settings import Settings
from documents.models import SigningDecline

PURPOSE = "sign"
CONSENT = N_(
    "I have read this version in full and agree to it voluntarily. I know that my electronic "
    "signature, confirmed with the code sent to my phone, has the same legal effect as a "
    "handwritten signature."
)
NO_CONSENT = N_("Please tick the box to confirm that you agree to sign.")
NO_CODE = N_("Please request a verification code and enter it.")
DECLINED_ALREADY = N_("You declined to sign this version. The mediator will revise it.")
BAD_REASON = N_("Please give a reason for declining in 2 to 500 characters.")
MAX_REASON = 500


class Signable(Protocol):
    """A document a ceremony can run for."""

    id: int
    case_id: int
    version_hash: str

    @property
    def ceremony_key(self) -> str:
        """Unique across kinds of document: what a signing code is bound to."""
        ...


def code_subject(document: Signable, signer: str) -> str:
    """What a signing code unlocks: this document, this signer (a code for one opens no other)."""
    return f"{PURPOSE}:{document.ceremony_key}:{signer}"


async def phone_on_record(db: AsyncSession, signer: str) -> str | None:
    kind, _, ident = signer.partition(":")
    if not ident.isdigit():
        return None
    if kind == "party":
        party = await db.get(Party, int(ident))
        return party.phone if party else None
    staff = await db.get(StaffUser, int(ident))
    return staff.phone if staff else None


async def declined(db: AsyncSession, document: Signable, signer: str) -> SigningDecline | None:
    return await db.scalar(
        select(SigningDecline).where(
            SigningDecline.agreement_id == document.id, SigningDecline.signer == signer
        )
    )


async def declines_of(db: AsyncSession, document_id: int) -> dict[str, SigningDecline]:
    rows = await db.scalars(
        select(SigningDecline).where(SigningDecline.agreement_id == document_id)
    )
    return {row.signer: row for row in rows}


async def do_request_code(
    db: AsyncSession, settings: Settings, principal: Principal, document: Signable
) -> str:
    """Texts a fresh code to the signer's phone on record; returns the masked number."""
    phone = await phone_on_record(db, principal.key)
    if phone is None:
        raise Conflict(N_("There is no phone number on record to send a code to."))
    subject = code_subject(document, principal.key)
    await issue_code(db, settings, PURPOSE, subject, phone, case_id=document.case_id)
    return mask_phone(phone)


@dataclass(frozen=True)
class StepUp:
    """How the signer proved control: the verified SMS code, or (staff without a phone on
    record) the password session alone."""

    code_id: int | None
    phone_masked: str | None
    sent_at: str | None
    verified_at: str | None

    def as_evidence(self) -> dict[str, Any]:
        method = "sms" if self.code_id is not None else "password-session"
        return {"method": method, **self.__dict__}


async def check_step_up(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    document: Signable,
    code: object,
) -> StepUp:
    """Spends the code (before `db` writes anything, see `verify_code`). A party always needs
    one; staff need one when a phone is on record."""
    phone = await phone_on_record(db, principal.key)
    if phone is None and principal.kind == "staff":
        return StepUp(None, None, None, None)
    if not isinstance(code, str) or not code.strip():
        raise UserError(NO_CODE)
    subject = code_subject(document, principal.key)
    row: PhoneCode = await verify_code(db, settings, PURPOSE, subject, code)
    verified = row.verified_at or utcnow()
    return StepUp(row.id, mask_phone(row.phone), row.created_at.isoformat(), verified.isoformat())


async def evidence_of(
    db: AsyncSession, principal: Principal, ip: str | None, user_agent: str, step_up: StepUp
) -> dict[str, Any]:
    session = await db.get(WebSession, principal.session_id) if principal.session_id else None
    return {
        "ip": ip,
        "user_agent": user_agent[:300],
        "session_id": principal.session_id,
        "link_id": session.link_id if session else None,
        "consent": translate(CONSENT, "zh_CN"),
        "step_up": step_up.as_evidence(),
    }


def check_reason(reason: object) -> str:
    text = single_spaced(reason) if isinstance(reason, str) else ""
    if not 2 <= len(text) <= MAX_REASON or unprintable(text) is not None:
        raise UserError(BAD_REASON)
    return text


async def do_decline(
    db: AsyncSession,
    principal: Principal,
    document: Signable,
    signers: list[str],
    reason: str,
    evidence: dict[str, Any],
) -> SigningDecline:
    """Records the refusal once per version and signer; the mediator sees it on the case."""
    if principal.key not in signers:
        raise PermissionDenied(N_("You are not a signatory of this agreement."))
    await lock_row(db, Case, document.case_id)
    if await declined(db, document, principal.key) is not None:
        raise Conflict(DECLINED_ALREADY)
    row = SigningDecline(
        agreement_id=document.id,
        signer=principal.key,
        version_hash=document.version_hash,
        reason=reason,
        evidence=evidence,
    )
    db.add(row)
    await db.flush()
    await record_event(
        db, document.case_id, "agreement_declined", principal.key, {"reason": reason}
    )
    return row
