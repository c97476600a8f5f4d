"""The court's ruling (民事裁定书) on both databases: rendered and sealed by its job with the
court's own key (not the committee's), read back; served by SMS with a link; its receipt
recorded once per party under concurrent downloads; the agreement marked enforceable."""

from __future__ import annotations

import asyncio
import io
from hashlib import sha256
from typing import Any

import pypdf
from aiohttp import web
from sqlalchemy import func, select

from app.auth import hash_password
from app.db import sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Case, CaseEvent, Message, Organization, StaffUser
from app.storage import storage_key
from documents.keys import seal_keys_key
from documents.models import Agreement, CourtFiling, ServiceReceipt
from documents.ruling import produce_ruling
from documents.seal import verify_pdf
from tests.builders import accepted
from tests.documents.test_court_review import bearer, filing_row
from tests.documents.test_verify_page import post_pdf
from tests.people import login, open_party_session

REASONS = (
    "经审查，该协议第二项约定的“以房抵债”涉及案外人<王某>的房屋 & 权益，\n"
    "损害第三人利益（《民事诉讼法》第206条）。"
)


async def decide(app: web.Application, client: Any, demo: dict[str, int], body: dict) -> int:
    filing_id = await accepted(app, demo)
    headers = await bearer(app, demo["user:judge"])
    response = await client.post(
        f"/api/v1/court/filings/{filing_id}/decision", json=body, headers=headers
    )
    assert response.status == 200, await response.text()
    await run_pending(app)
    return filing_id


async def ruling_pdf(app: web.Application, filing: CourtFiling) -> bytes:
    assert filing.ruling_storage_key is not None and filing.ruling_sha256 is not None
    pdf = bytes(await app[storage_key].get(filing.ruling_storage_key))
    assert sha256(pdf).hexdigest() == filing.ruling_sha256
    return pdf


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


async def seal_certificates(app: web.Application, filing: CourtFiling) -> tuple[bytes, bytes]:
    """The court's and the committee's seal certificates (PEM)."""
    async with app[sessionmaker_key]() as db:
        court = await db.get(Organization, filing.court_org_id)
        case = await db.get(Case, filing.case_id)
        assert court is not None and case is not None
        committee = await db.get(Organization, case.org_id)
        assert committee is not None
    keys = app[seal_keys_key]
    court_key = await asyncio.to_thread(keys.for_org, court.id, court.name)
    committee_key = await asyncio.to_thread(keys.for_org, committee.id, committee.name)
    return court_key.cert_pem, committee_key.cert_pem


async def test_a_confirmed_ruling_is_sealed_by_the_court_served_and_enforceable(
    app, client, new_client, demo
) -> None:
    filing_id = await decide(app, client, demo, {"decision": "confirmed"})
    filing = await filing_row(app, filing_id)
    pdf = await ruling_pdf(app, filing)
    text = text_of(pdf)
    async with app[sessionmaker_key]() as db:
        agreement = await db.get(Agreement, filing.agreement_id)
        court = await db.get(Organization, filing.court_org_id)
    assert agreement is not None and court is not None
    committee = agreement.content["organization"]
    names = "、".join(p["name"] for p in agreement.content["parties"])
    assert filing.court_case_number is not None
    for needed in (
        court.name,
        "民事裁定书",
        filing.court_case_number,
        f"申请人{names}于",
        "主持调解达成的调解协议有效。",
        "当事人应当按照调解协议的约定自觉履行义务。一方当事人拒绝履行或者未全部履行的，"
        "对方当事人可以向人民法院申请强制执行。",
        "审判员",
        "书记员",
    ):
        assert needed in text, needed
    assert "驳回" not in text
    for party in agreement.content["parties"]:
        assert party["phone_masked"] not in text  # a ruling prints no phone nor ID number
    court_cert, committee_cert = await seal_certificates(app, filing)
    by_court = await asyncio.to_thread(verify_pdf, pdf, court_cert)
    assert by_court.ok() and by_court.signer and court.name in by_court.signer
    assert not (await asyncio.to_thread(verify_pdf, pdf, committee_cert)).trusted

    # Served: one SMS per party, each with its own link to the case page.
    async with app[sessionmaker_key]() as db:
        texts = list(
            await db.execute(
                select(Message.recipient, Message.body).where(Message.case_id == filing.case_id)
            )
        )
    served = {to: body for to, body in texts if filing.court_case_number in body and "/p/" in body}
    assert len(served) == 2  # each party, at their own phone
    assert all(body.startswith(f"【{committee}】") for body in served.values())
    assert (await produce_ruling(app, filing_id)) is False  # a second run changes nothing

    party = await new_client()
    await open_party_session(party, app, filing.case_id, "respondent")
    page = await (await party.get(f"/cases/{filing.case_id}")).text()
    assert 'id="enforceable"' in page and f"/filings/{filing_id}/ruling" in page
    download = await party.get(f"/filings/{filing_id}/ruling")
    assert download.status == 200 and await download.read() == pdf

    uploaded = await (await post_pdf(party, pdf, "ruling.pdf")).text()
    assert 'class="ok" id="verify-result"' in uploaded
    assert 'class="ok" id="verify-record"' in uploaded and filing.court_case_number in uploaded
    verify = await (await party.get(f"/verify/{agreement.version_hash}")).text()
    assert 'id="verify-enforceable"' in verify and filing.court_case_number in verify

    inbox = await client.get("/api/v1/court/inbox", headers=await bearer(app, demo["user:clerk"]))
    (item,) = [f for f in (await inbox.json())["filings"] if f["id"] == filing_id]
    assert item["enforceable"] is True and item["ruling_sha256"] == filing.ruling_sha256
    assert sorted(p["served_at"] is not None for p in item["parties"]) == [False, True]
    ruling = await client.get(item["ruling_url"], headers=await bearer(app, demo["user:clerk"]))
    assert ruling.status == 200 and await ruling.read() == pdf


async def test_a_dismissal_prints_the_judges_reasons_as_typed(app, client, demo) -> None:
    filing_id = await decide(app, client, demo, {"decision": "dismissed", "note": REASONS})
    filing = await filing_row(app, filing_id)
    assert filing.decision_note == REASONS and not filing.enforceable
    text = text_of(await ruling_pdf(app, filing))
    assert REASONS.replace("\n", "") in text
    for needed in (
        "的司法确认申请。",
        "当事人可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼。",
    ):
        assert needed in text, needed
    assert "驳回申请人" in text and "调解协议有效" not in text


async def test_each_party_is_served_once_under_concurrent_downloads(
    app, client, new_client, demo
) -> None:
    filing_id = await decide(app, client, demo, {"decision": "confirmed"})
    filing = await filing_row(app, filing_id)
    parties = []
    for role in ("applicant", "respondent"):
        party = await new_client()
        await open_party_session(party, app, filing.case_id, role)
        parties.append(party)
    path = f"/filings/{filing_id}/ruling"
    responses = await asyncio.gather(*(p.get(path) for p in parties for _ in range(4)))
    assert [r.status for r in responses] == [200] * 8
    async with app[sessionmaker_key]() as db:
        receipts = await db.scalar(
            select(func.count()).where(ServiceReceipt.filing_id == filing_id)
        )
        events = await db.scalar(
            select(func.count()).where(
                CaseEvent.case_id == filing.case_id, CaseEvent.kind == "ruling_served"
            )
        )
    assert (receipts, events) == (2, 2)

    await login(client, "clerk")
    inbox = await (await client.get("/court/inbox")).text()
    assert inbox.count('data-served="yes"') >= 2


async def test_the_ruling_is_for_the_case_and_its_court_only(app, client, new_client, demo):
    filing_id = await decide(app, client, demo, {"decision": "confirmed"})
    other = await accepted(app, demo)
    other_case = (await filing_row(app, other)).case_id
    stranger = await new_client()
    await open_party_session(stranger, app, other_case, "applicant")
    assert (await stranger.get(f"/filings/{filing_id}/ruling")).status == 404
    assert (await stranger.get("/filings/999999/ruling")).status == 404
    mediator = await new_client()
    await login(mediator, "mediator")
    assert (await mediator.get(f"/filings/{filing_id}/ruling")).status == 200
    async with transaction(app) as db:
        court = Organization(name="另一法院", short_name="另", tier="district", kind="court")
        db.add(court)
        await db.flush()
        judge = StaffUser(
            org_id=court.id,
            username="other-judge",
            display_name="另一法官",
            role="judge",
            password_hash=hash_password("x" * 12),
        )
        db.add(judge)
        await db.flush()
        judge_id = judge.id
    refused = await client.get(f"/filings/{filing_id}/ruling", headers=await bearer(app, judge_id))
    assert refused.status == 404
    undecided = await new_client()
    await open_party_session(undecided, app, other_case, "applicant")
    assert (await undecided.get(f"/filings/{other}/ruling")).status == 409
