"""Draft → every signatory signs the exact version → sealed PDF → court lane, over HTTP."""

from __future__ import annotations

import io

from aiohttp import web
from pypdf import PdfReader
from sqlalchemy import func, select

from app.auth import create_api_token
from app.db import sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Message
from documents.application import current_application
from documents.models import Agreement, Signature
from documents.sealed import check_seal
from tests.builders import draft_form
from tests.documents.signing import (
    MEDIATOR_PHONE,
    SIGNATURE_SIZE,
    party_phone,
    sign_with_code,
    signature_body,
)
from tests.pdf_reading import drawn_images, pdf_text
from tests.people import csrf, login, open_party_session, post_form

TERMS = "李建国于2026年12月31日前支付王秀兰院墙重建费用人民币8000元\n双方共用通道保持畅通"


async def draft(client, case_id: int, **overrides: str):
    return await post_form(
        client, f"/cases/{case_id}/agreement", draft_form(**overrides), allow_redirects=False
    )


async def current(app: web.Application, case_id: int) -> Agreement:
    async with app[sessionmaker_key]() as db:
        row = await db.scalar(
            select(Agreement).where(Agreement.case_id == case_id, Agreement.status != "void")
        )
        assert row is not None
        return row


async def sign(client, agreement: Agreement, version_hash: str | None = None):
    """Posts a signature without a code: what a forged request (or a staff member with no
    phone on record) sends."""
    token = await csrf(client)
    return await client.post(
        f"/agreements/{agreement.id}/signatures",
        json=signature_body(version_hash or agreement.version_hash),
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def test_full_agreement_and_court_lane(
    app, client, new_client, scheduled_case, tmp_path
) -> None:
    case_id = scheduled_case
    mediator = client
    applicant, respondent, clerk = [await new_client() for _ in range(3)]
    await login(mediator, "mediator")
    assert (await draft(mediator, case_id)).status == 303
    agreement = await current(app, case_id)

    await open_party_session(applicant, app, case_id, "applicant")
    await open_party_session(respondent, app, case_id, "respondent")
    page = await applicant.get(f"/agreements/{agreement.id}")
    assert "院墙重建费用" in await page.text()
    phones = [await party_phone(app, case_id, role) for role in ("applicant", "respondent")]
    assert (await sign_with_code(applicant, app, agreement, phones[0])).status == 201
    assert (await sign(applicant, agreement)).status == 409  # only once
    assert (await sign_with_code(respondent, app, agreement, phones[1])).status == 201
    assert (await applicant.get(f"/agreements/{agreement.id}/pdf")).status == 409  # not yet
    response = await sign_with_code(mediator, app, agreement, MEDIATOR_PHONE)
    assert response.status == 201 and (await response.json())["status"] == "sealing"
    assert (await applicant.get(f"/agreements/{agreement.id}/pdf")).status == 409  # no seal yet
    await run_pending(app)  # the seal job

    response = await respondent.get(f"/agreements/{agreement.id}/pdf")
    assert response.status == 200
    pdf = await response.read()
    text = pdf_text(pdf)
    for needle in ("王秀兰", "李建国", "院墙重建费用", "人民调解协议书"):
        assert needle in text
    # The evidence page: each signer's verified SMS code and the version they signed.
    evidence = text[text.index("电子签名证据") :]
    assert evidence.count("短信验证码") == 3 and "139****5678" in evidence
    assert evidence.count(agreement.version_hash[:32]) >= 3
    assert (await check_seal(app, pdf)).ok()
    pdf_path = tmp_path / "agreement.pdf"
    pdf_path.write_bytes(pdf)
    assert drawn_images(str(pdf_path), *SIGNATURE_SIZE) == 3  # both parties and the mediator
    attached = PdfReader(io.BytesIO(pdf)).attachments["agreement.json"][0]
    assert agreement.version_hash.encode() in attached

    # The joint application: the mediator prepares it for the basic court, each party signs
    # it with the same ceremony (SMS step-up), it is sealed, and only then filed.
    response = await post_form(
        mediator,
        f"/cases/{case_id}/application",
        {"court_basis": "mediation_org"},
        allow_redirects=False,
    )
    assert response.status == 303
    async with app[sessionmaker_key]() as db:
        joint = await current_application(db, case_id)
    assert joint is not None
    assert 'id="sign-application"' in await (await applicant.get(f"/cases/{case_id}")).text()
    for party, phone in zip((applicant, respondent), phones, strict=True):
        assert (await sign_with_code(party, app, joint, phone)).status == 201
    await run_pending(app)  # the application's seal job
    response = await post_form(
        mediator, f"/cases/{case_id}/filing", {"subject": "ordinary"}, allow_redirects=False
    )
    assert response.status == 303

    await login(clerk, "clerk")
    inbox = await clerk.get("/court/inbox")
    assert "王秀兰" in await inbox.text()
    assert (await clerk.get(f"/agreements/{agreement.id}/pdf")).status == 200
    filing_id = int((await inbox.text()).split('data-filing="')[1].split('"')[0])
    response = await post_form(
        clerk,
        f"/court/filings/{filing_id}/review",
        {"outcome": "accepted", "court_case_number": "(2026)苏0509民特1号", "note": ""},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await applicant.get(f"/cases/{case_id}")
    assert "(2026)苏0509民特1号" in await page.text() and 'id="ruling-due"' in await page.text()
    judge = await new_client()
    await login(judge, "judge")
    response = await post_form(
        judge,
        f"/court/filings/{filing_id}/decision",
        {"decision": "confirmed", "note": ""},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await applicant.get(f"/cases/{case_id}")
    assert 'data-filing-status="confirmed"' in await page.text()
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        bodies = list(await db.scalars(select(Message.body)))
    assert any("确认" in body for body in bodies)
    # Every SMS of the whole flow (codes, receipts, the application, the court's steps, the
    # ruling's service) carries the organisation's signature.
    async with app[sessionmaker_key]() as db:
        texts = list(await db.scalars(select(Message.body).where(Message.channel == "sms")))
    assert len(texts) >= 10
    assert all(body.startswith("【松陵街道人民调解委员会】") for body in texts), texts


async def test_revision_voids_signatures_and_old_hash_is_refused(
    app, client, new_client, scheduled_case
) -> None:
    mediator, applicant = client, await new_client()
    await login(mediator, "mediator")
    await draft(mediator, scheduled_case)
    first = await current(app, scheduled_case)
    await open_party_session(applicant, app, scheduled_case)
    phone = await party_phone(app, scheduled_case)
    assert (await sign_with_code(applicant, app, first, phone)).status == 201
    await draft(mediator, scheduled_case, performance="现金支付")
    second = await current(app, scheduled_case)
    assert second.version == 2 and second.version_hash != first.version_hash
    stale = await sign(applicant, second, version_hash=first.version_hash)
    assert stale.status == 409
    assert "协议内容已变更" in (await stale.json())["messages"]["zh_CN"]
    async with app[sessionmaker_key]() as db:
        assert (await db.get(Agreement, first.id)).status == "void"  # type: ignore[union-attr]
    page = await applicant.get(f"/cases/{scheduled_case}")
    assert "not signed yet" in await page.text() or "尚未签署" in await page.text()
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        texts = list(await db.scalars(select(Message.body).where(Message.recipient == phone)))
    assert any("重新签署" in body for body in texts)  # the voided signer is told


async def test_bad_input_is_refused_and_nothing_is_stored(app, client, scheduled_case) -> None:
    await login(client, "mediator")
    response = await draft(client, scheduled_case, performance_deadline="2026-02-30")
    assert response.status == 422
    assert "履行期限" in await response.text()
    response = await draft(client, scheduled_case, terms="   ")
    assert response.status == 422
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Agreement)) == 0
    await draft(client, scheduled_case)
    agreement = await current(app, scheduled_case)
    token = await csrf(client)
    for body in (
        {"version_hash": agreement.version_hash, "image": "data:image/png;base64,@@"},
        {"version_hash": agreement.version_hash, "image": "not an image"},
        {"image": "x"},
    ):
        response = await client.post(
            f"/agreements/{agreement.id}/signatures", json=body, headers={"X-CSRF-Token": token}
        )
        assert response.status == 400, body
    response = await client.post(
        f"/agreements/{agreement.id}/signatures", data=b"{not json", headers={"X-CSRF-Token": token}
    )
    assert response.status == 400
    async with app[sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Signature)) == 0


async def test_parties_cannot_act_as_the_mediator(app, client, scheduled_case) -> None:
    await open_party_session(client, app, scheduled_case)
    assert (await draft(client, scheduled_case)).status == 403
    response = await post_form(client, f"/cases/{scheduled_case}/filing", {"court_org_id": "1"})
    assert response.status == 403


async def test_court_api_inbox_needs_a_clerk_token(app, client, scheduled_case, demo) -> None:
    async with transaction(app) as db:
        clerk_token = await create_api_token(db, demo["user:clerk"], "court system")
        mediator_token = await create_api_token(db, demo["user:mediator"], "x")
    response = await client.get(
        "/api/v1/court/inbox", headers={"Authorization": f"Bearer {clerk_token}"}
    )
    assert response.status == 200 and (await response.json()) == {"filings": [], "next_page": None}
    response = await client.get(
        "/api/v1/court/inbox", headers={"Authorization": f"Bearer {mediator_token}"}
    )
    assert response.status == 403
    assert (await client.get("/api/v1/court/inbox")).status in (401, 403)
