"""The court's ruling on a judicial-confirmation application (民事裁定书, 民事诉讼法 art. 206).

The judge's decision (documents/court_review.py) enqueues `render_ruling` in its transaction.
The job freezes what the ruling prints, renders templates/documents/ruling_pdf.html in the
render workers, seals the PDF with the COURT's own key (a court is an organisation with its own
seal, documents/keys.py; never the committee's) in the executor, stores it (app/storage.py) and
records its hash on the filing by a conditional UPDATE. Only the run that wins serves it: each
party gets an SMS with a fresh link to the case page (documents/service.py records receipts).
"""

from __future__ import annotations

import asyncio
import functools
import json
from datetime import date
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
from app.jobs import enqueue, register
from app.models import Case, Organization, StaffUser
from app.notify import SMS_LOCALE, send_sms
from app.services import parties_of, record_event
from app.settings import ROOT, settings_key
from app.storage import keep_once, storage_key
from documents.case_documents import local_date
from documents.models import Agreement, CourtFiling
from documents.pdf import format_date, seal_chars
from documents.qr import qr_data_uri
from documents.seal import seal_pdf
from documents.sealed import SEXES_ZH, org_seal, renderer_key

RENDER_RULING = "render_ruling"
TEMPLATE = "documents/ruling_pdf.html"
RULING_SMS = {
    "confirmed": N_(
        "Case {number}: the court confirmed the mediation agreement by ruling {court_number}; "
        "it is now enforceable. Read and download the ruling here: {link}"
    ),
    "dismissed": N_(
        "Case {number}: the court dismissed the application for judicial confirmation by "
        "ruling {court_number}. Read the ruling and its reasons here: {link}"
    ),
}
# The operative part of the ruling (裁定如下), in the words of the SPC's model rulings.
CONFIRMED = (
    "申请人{names}于{day}经{committee}主持调解达成的调解协议有效。",
    "当事人应当按照调解协议的约定自觉履行义务。一方当事人拒绝履行或者未全部履行的，"
    "对方当事人可以向人民法院申请强制执行。",
)
DISMISSED = (
    "驳回申请人{names}的司法确认申请。",
    "当事人可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼。",
)


async def request_ruling(db: AsyncSession, filing: CourtFiling) -> None:
    """In the decision's transaction: the ruling is rendered once it is committed."""
    await enqueue(db, RENDER_RULING, {"filing_id": filing.id})


def applicant(party: dict[str, Any]) -> str:
    """One applicant as a ruling prints them: no ID number, no phone."""
    if party.get("kind") == "organisation":
        bits = [party["name"], f"住所地{party['address']}" if party.get("address") else ""]
        line = "，".join(b for b in bits if b) + "。"
        if party.get("representative"):
            line += f"法定代表人：{party['representative']}。"
        return line
    birth = party.get("birth_date")
    bits = [
        party["name"],
        SEXES_ZH.get(party.get("sex") or "", ""),
        f"{format_date(date.fromisoformat(birth))}出生" if birth else "",
        party.get("ethnicity") or "",
        party.get("occupation") or "",
        f"住{party['address']}" if party.get("address") else "",
    ]
    line = "，".join(b for b in bits if b) + "。"
    if (party.get("agent") or {}).get("name"):
        line += f"委托代理人：{party['agent']['name']}。"
    return line


async def _staff_name(db: AsyncSession, key: str | None) -> str:
    if not key or not key.startswith("staff:"):
        return ""
    person = await db.get(StaffUser, int(key.removeprefix("staff:")))
    return person.display_name if person else ""


async def ruling_content(db: AsyncSession, filing: CourtFiling) -> dict[str, Any]:
    """Everything the ruling prints, frozen from the filing, its agreement and the court."""
    agreement = await db.get(Agreement, filing.agreement_id)
    court = await db.get(Organization, filing.court_org_id)
    assert agreement is not None and court is not None and filing.decided_at is not None
    parties = agreement.content["parties"]
    names = "、".join(p["name"] for p in parties)
    values = {
        "names": names,
        "day": local_date(agreement.effective_at or agreement.created_at),
        "committee": agreement.content["organization"],
    }
    operative = CONFIRMED if filing.status == "confirmed" else DISMISSED
    return {
        "org_name": court.name,
        "case_number": filing.court_case_number or "",
        "decision": filing.status,
        "applicants": [applicant(p) for p in parties],
        "names": names,
        "committee": values["committee"],
        "agreement_day": values["day"],
        "filed_day": local_date(filing.filed_at),
        "accepted_day": local_date(filing.accepted_at or filing.filed_at),
        "terms": list(agreement.content["terms"]),
        "reasons": filing.decision_note or "",
        "operative": [line.format(**values) for line in operative],
        "judge": await _staff_name(db, filing.decided_by),
        "clerk": await _staff_name(db, filing.reviewed_by),
        "date": local_date(filing.decided_at),
        "mediation_case_number": agreement.content["case"]["number"] or "",
    }


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def ruling_html(content: dict[str, Any], verify_url: str) -> str:
    """The printable ruling: everything inline (fonts by name, the QR code as a data URI)."""
    qr = qr_data_uri(verify_url)
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            doc=content,
            version=1,
            verify_url=verify_url,
            qr_src=qr,
            sealed_on=content["date"],
            seal_chars=seal_chars(content["org_name"]),
        )
    )


async def _sealed(app: web.Application, content: dict[str, Any], court: Organization) -> bytes:
    loop = asyncio.get_running_loop()
    verify_url = f"{app[settings_key].public_url}/verify"
    html = await loop.run_in_executor(app[executor_key], ruling_html, content, verify_url)
    data = json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True).encode()
    pdf = await app[renderer_key].render_html(html, [("ruling.json", data, "裁定书数据 (JSON)")])
    key = await org_seal(app, court)
    seal = functools.partial(
        seal_pdf, key=key, reason="民事裁定书", tsa_url=app[settings_key].tsa_url
    )
    return await loop.run_in_executor(app[executor_key], seal, pdf)


async def produce_ruling(app: web.Application, filing_id: int) -> bool:
    """Render, seal, store and serve the ruling; False when it was already done."""
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        if filing is None or filing.status not in ("confirmed", "dismissed"):
            return False
        if filing.ruling_sha256 is not None:
            return False
        court = await db.get(Organization, filing.court_org_id)
        assert court is not None
        content = await ruling_content(db, filing)
    sealed = await _sealed(app, content, court)
    digest = sha256(sealed).hexdigest()
    key = f"cases/{filing.case_id}/rulings/filing-{filing.id}-{digest[:16]}.pdf"
    record = functools.partial(_record, app, filing, digest, key)
    return await keep_once(app[storage_key], key, sealed, record)


async def _record(app: web.Application, filing: CourtFiling, digest: str, key: str) -> bool:
    async with transaction(app) as db:
        changed = await db.execute(
            update(CourtFiling)
            .where(CourtFiling.id == filing.id, CourtFiling.ruling_sha256.is_(None))
            .values(ruling_sha256=digest, ruling_storage_key=key, ruling_sealed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        data = {"court_case_number": filing.court_case_number, "sha256": digest}
        await record_event(db, filing.case_id, "ruling_sealed", "system", data, public=True)
        await _serve(app, db, filing)
    return True


async def _serve(app: web.Application, db: AsyncSession, filing: CourtFiling) -> None:
    """电子送达: each party gets a fresh link to the case page, where the ruling is offered."""
    settings = app[settings_key]
    case = await db.get(Case, filing.case_id)
    assert case is not None
    for party in await parties_of(db, case.id):
        token = await issue_party_link(db, party.id, settings.party_link_days)
        body = translate(
            RULING_SMS[filing.status],
            SMS_LOCALE,
            number=case.number or case.id,
            court_number=filing.court_case_number,
            link=f"{settings.base_url}/p/{token}",
        )
        await send_sms(db, party.phone, body, case.id)


async def _job(app: web.Application, payload: dict[str, Any]) -> None:
    await produce_ruling(app, int(payload["filing_id"]))


def setup(app: web.Application) -> None:
    register(app, RENDER_RULING, _job)
