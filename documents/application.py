"""The parties' joint application for judicial confirmation (司法确认申请书; 人民调解法 art. 33,
民事诉讼法 art. 205–206): prepared by the mediator from the effective agreement, naming the
competent court (documents/venue.py); signed by every party with the agreements' signing
ceremony (documents/ceremony.py: SMS step-up, consent, decline with a reason); sealed into a PDF
once the last party signed (documents/application_pdf.py). Only a sealed application is filed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, issue_party_link
from app.db import lock_row, utcnow
from app.errors import Conflict, PermissionDenied
from app.i18n import N_, format_date, translate
from app.jobs import enqueue
from app.models import Case
from app.notify import SMS_LOCALE, send_sms
from app.services import parties_of, record_event
from app.settings import Settings
from documents.case_documents import local_date
from documents.ceremony import phone_on_record
from documents.court_clocks import WEEKENDS_ONLY, RestDays, filing_closes, last_day
from documents.models import (
    Agreement,
    ApplicationDecline,
    ApplicationSignature,
    CourtFiling,
    JointApplication,
)
from documents.services import require_mediator, version_hash
from documents.venue import Venue

SEAL_APPLICATION = "seal_application"
LIVE_FILING = ("filed", "supplement", "accepted", "confirmed", "dismissed")
BASIS_ZH = {
    "mediation_org": "调解组织所在地基层人民法院",
    "domicile": "当事人住所地基层人民法院",
    "subject": "标的物所在地基层人民法院",
}
NOT_EFFECTIVE = N_("Only an agreement that every signatory has signed can be filed.")
WINDOW_OVER = N_(
    "The 30 days for applying ended on {day}; the court can no longer confirm this agreement. "
    "The parties may sue, or mediate again."
)
ALREADY_FILED = N_("This agreement has already been filed.")
NOT_SIGNED = N_(
    "Every party must sign the joint application, and it must be sealed, before it can be filed."
)
NOT_A_SIGNER = N_("You are not an applicant of this joint application.")
NO_LONGER = N_("This joint application can no longer be signed.")
SIGNED_ALREADY = N_("You have already signed this joint application.")
DECLINED = N_("You declined to sign this joint application. The mediator will talk to you.")
CHANGED = N_("The joint application changed since you opened it. Please read it again.")
READY_SMS = N_(
    "Case {number}: the joint application to {court} for judicial confirmation of your "
    "mediation agreement is ready. Please read and sign it by {day}: {link}"
)
SEALED_SMS = N_(
    "Case {number}: every party signed the joint application for judicial confirmation; it "
    "is sealed and the mediator can file it with {court}."
)


def check_window(agreement: Agreement, rest: RestDays, now: datetime | None = None) -> datetime:
    """The instant the 30 days close; refuses an agreement not in effect or out of time."""
    if agreement.status != "effective" or agreement.effective_at is None:
        raise Conflict(NOT_EFFECTIVE)
    closes = filing_closes(agreement.effective_at, rest)
    if (now or utcnow()) >= closes:
        raise Conflict(WINDOW_OVER, day=format_date(last_day(closes), SMS_LOCALE))
    return closes


def paragraphs(content: dict[str, Any]) -> list[str]:
    """The text every applicant signs and the PDF prints, exactly."""
    names = "、".join(a["name"] for a in content["applicants"])
    agreement, org, court = content["agreement"], content["organization"], content["court"]
    number = f"{content['case']['number']}，第{agreement['version']}版"
    lines = [
        f"请求事项：请求{court['name']}确认申请人{names}于{agreement['effective_on']}经{org}"
        f"主持调解达成的调解协议（{number}）有效。",
        f"事实与理由：申请人之间的纠纷经{org}主持调解，达成调解协议。协议经各方当事人签名、"
        f"调解员签名并加盖{org}印章，于{agreement['effective_on']}生效。",
        "申请人声明：上述调解协议是申请人在平等协商的基础上自愿达成的，内容不违反法律、行政法规"
        "的强制性规定，不损害国家利益、社会公共利益和他人合法权益；申请人所提交的材料真实、合法。"
        "申请人知悉司法确认的法律后果：人民法院裁定调解协议有效后，一方当事人拒绝履行或者未全部"
        "履行的，对方当事人可以向人民法院申请强制执行；人民法院裁定驳回申请的，当事人可以通过调解"
        "方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼。",
        "依据《中华人民共和国人民调解法》第三十三条、《中华人民共和国民事诉讼法》第二百零五条、"
        "第二百零六条的规定，申请人自调解协议生效之日起三十日内共同提出本申请。",
        f"受理法院：{court['name']}（{BASIS_ZH[court['basis']]}）。",
    ]
    if court.get("reason"):
        lines.append(f"选择该法院的理由：{court['reason']}")
    return lines


def application_content(
    case: Case, agreement: Agreement, venue: Venue, today: datetime
) -> dict[str, Any]:
    """What is hashed, signed and printed: the applicants as the agreement records them."""
    assert agreement.effective_at is not None
    content: dict[str, Any] = {
        "case": {"id": case.id, "number": case.number or ""},
        "agreement": {
            "id": agreement.id,
            "version": agreement.version,
            "version_hash": agreement.version_hash,
            "effective_on": local_date(agreement.effective_at),
        },
        "organization": agreement.content["organization"],
        "applicants": [
            {
                "id": p["id"],
                "name": p["name"],
                "kind": p.get("kind", "person"),
                "id_masked": p.get("id_masked") or "",
                "credit_code": p.get("credit_code") or "",
                "representative": p.get("representative") or "",
                "address": p.get("address") or "",
                "phone_masked": p.get("phone_masked") or "",
            }
            for p in agreement.content["parties"]
        ],
        "court": {
            "id": venue.court.id,
            "name": venue.court.name,
            "basis": venue.basis,
            "reason": venue.reason,
        },
        "date": local_date(today),
    }
    content["paragraphs"] = paragraphs(content)
    return content


def signer_keys(application: JointApplication) -> list[str]:
    """Every party applies jointly (art. 33); the mediator does not sign."""
    return [f"party:{a['id']}" for a in application.content["applicants"]]


def signer_name(application: JointApplication, key: str) -> str:
    ident = key.partition(":")[2]
    found = (a["name"] for a in application.content["applicants"] if str(a["id"]) == ident)
    return next(found, key)


async def current_application(db: AsyncSession, case_id: int) -> JointApplication | None:
    return await db.scalar(
        select(JointApplication)
        .where(JointApplication.case_id == case_id, JointApplication.status != "void")
        .order_by(JointApplication.id.desc())
        .limit(1)
    )


async def signatures_of(db: AsyncSession, application_id: int) -> dict[str, ApplicationSignature]:
    rows = await db.scalars(
        select(ApplicationSignature).where(ApplicationSignature.application_id == application_id)
    )
    return {row.signer: row for row in rows}


async def declines_of(db: AsyncSession, application_id: int) -> dict[str, ApplicationDecline]:
    rows = await db.scalars(
        select(ApplicationDecline).where(ApplicationDecline.application_id == application_id)
    )
    return {row.signer: row for row in rows}


async def signer_rows(db: AsyncSession, row: JointApplication) -> list[dict[str, Any]]:
    """Each applicant with whether they signed or declined (two statements)."""
    signatures = await signatures_of(db, row.id)
    declines = await declines_of(db, row.id)
    return [
        {
            "key": key,
            "name": signer_name(row, key),
            "signed": key in signatures,
            "declined": declines.get(key),
        }
        for key in signer_keys(row)
    ]


async def _live_filing(db: AsyncSession, agreement_id: int) -> bool:
    found = await db.scalar(
        select(CourtFiling.id)
        .where(CourtFiling.agreement_id == agreement_id, CourtFiling.status.in_(LIVE_FILING))
        .limit(1)
    )
    return found is not None


async def do_prepare(
    db: AsyncSession,
    settings: Settings,
    principal: Principal,
    case: Case,
    agreement: Agreement | None,
    venue: Venue,
    *,
    rest: RestDays = WEEKENDS_ONLY,
    now: datetime | None = None,
) -> JointApplication:
    """A new application for the parties to sign; an earlier one (and its signatures) is void.
    Each party is texted a fresh link to their case page."""
    require_mediator(principal, case)
    # The case row orders preparing, signing and filing of one case (as for agreements).
    await lock_row(db, Case, case.id)
    if agreement is None:
        raise Conflict(NOT_EFFECTIVE)
    await db.refresh(agreement)
    now = now or utcnow()
    closes = check_window(agreement, rest, now)
    if await _live_filing(db, agreement.id):
        raise Conflict(ALREADY_FILED)
    await db.execute(
        update(JointApplication)
        .where(JointApplication.case_id == case.id, JointApplication.status != "void")
        .values(status="void")
        .execution_options(synchronize_session=False)
    )
    content = application_content(case, agreement, venue, now)
    application = JointApplication(
        case_id=case.id,
        agreement_id=agreement.id,
        court_org_id=venue.court.id,
        court_basis=venue.basis,
        court_reason=venue.reason,
        content=content,
        version_hash=version_hash(content),
        created_by=principal.key,
    )
    db.add(application)
    await db.flush()
    data = {"court": venue.court.name, "basis": venue.basis, "reason": venue.reason}
    await record_event(db, case.id, "application_prepared", principal.key, data, public=True)
    day = format_date(last_day(closes), SMS_LOCALE)
    for party in await parties_of(db, case.id):
        token = await issue_party_link(db, party.id, settings.party_link_days)
        link = f"{settings.base_url}/p/{token}"
        number = case.number or case.id
        body = translate(
            READY_SMS, SMS_LOCALE, number=number, court=venue.court.name, day=day, link=link
        )
        await send_sms(db, party.phone, body, case.id)
    return application


def check_turn(application: JointApplication, signer: str, signed: set[str]) -> None:
    if signer not in signer_keys(application):
        raise PermissionDenied(NOT_A_SIGNER)
    if application.status != "signing":
        raise Conflict(NO_LONGER)
    if signer in signed:
        raise Conflict(SIGNED_ALREADY)


async def check_may_sign(
    db: AsyncSession,
    principal: Principal,
    application: JointApplication,
    shown_hash: str | None = None,
) -> None:
    """Before a code is sent or spent: an applicant who has neither signed nor declined."""
    check_turn(application, principal.key, set(await signatures_of(db, application.id)))
    if shown_hash is not None and shown_hash != application.version_hash:
        raise Conflict(CHANGED)
    if principal.key in await declines_of(db, application.id):
        raise Conflict(DECLINED)


async def do_sign(
    db: AsyncSession,
    principal: Principal,
    application: JointApplication,
    shown_hash: str,
    png: bytes,
    evidence: dict[str, Any],
) -> ApplicationSignature:
    """Applicants sign in any order; the last signature hands it to the seal, once."""
    await lock_row(db, Case, application.case_id)
    await db.refresh(application)
    signed = set(await signatures_of(db, application.id))
    check_turn(application, principal.key, signed)
    if shown_hash != application.version_hash:
        raise Conflict(CHANGED)
    signature = ApplicationSignature(
        application_id=application.id,
        signer=principal.key,
        version_hash=application.version_hash,
        image_png=png,
        evidence={
            **evidence,
            "version_hash": application.version_hash,
            "image_sha256": hashlib.sha256(png).hexdigest(),
        },
    )
    db.add(signature)
    await db.flush()
    await record_event(db, application.case_id, "application_signed", principal.key, {})
    if signed | {principal.key} >= set(signer_keys(application)):
        await _begin_sealing(db, application)
    return signature


async def _begin_sealing(db: AsyncSession, application: JointApplication) -> None:
    changed = await db.execute(
        update(JointApplication)
        .where(JointApplication.id == application.id, JointApplication.status == "signing")
        .values(status="sealing")
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return
    application.status = "sealing"
    await record_event(db, application.case_id, "application_signed_by_all", "system", {})
    await enqueue(db, SEAL_APPLICATION, {"application_id": application.id})


async def do_decline(
    db: AsyncSession,
    principal: Principal,
    application: JointApplication,
    reason: str,
    evidence: dict[str, Any],
) -> ApplicationDecline:
    """Recorded once per applicant; the mediator sees the reason and may prepare a new one."""
    await lock_row(db, Case, application.case_id)
    await db.refresh(application)
    await check_may_sign(db, principal, application)
    row = ApplicationDecline(
        application_id=application.id,
        signer=principal.key,
        version_hash=application.version_hash,
        reason=reason,
        evidence=evidence,
    )
    db.add(row)
    await db.flush()
    data = {"reason": reason}
    await record_event(db, application.case_id, "application_declined", principal.key, data)
    return row


async def do_sealed(db: AsyncSession, application: JointApplication, digest: str, key: str) -> bool:
    """The sealed PDF is stored: sealing → sealed by a conditional update (a job that runs
    twice records one PDF); the parties and the mediator are told."""
    changed = await db.execute(
        update(JointApplication)
        .where(JointApplication.id == application.id, JointApplication.status == "sealing")
        .values(status="sealed", sha256=digest, storage_key=key, sealed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await record_event(
        db, application.case_id, "application_sealed", "system", {"sha256": digest}, public=True
    )
    case = await db.get(Case, application.case_id)
    assert case is not None
    court = application.content["court"]["name"]
    body = translate(SEALED_SMS, SMS_LOCALE, number=case.number or case.id, court=court)
    for signer in signer_keys(application):
        phone = await phone_on_record(db, signer)
        if phone:
            await send_sms(db, phone, body, case.id)
    if case.mediator_id is not None:
        phone = await phone_on_record(db, f"staff:{case.mediator_id}")
        if phone:
            await send_sms(db, phone, body, case.id)
    return True
