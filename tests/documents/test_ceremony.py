"""The signing ceremony over HTTP: SMS step-up, consent, evidence, decline, order, refusals."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from app.db import sessionmaker_key
from app.jobs import run_pending
from app.models import Case, Message, PhoneCode, WebSession
from documents.models import Agreement, Signature, SigningDecline
from tests.builders import drafted, party_principals, scheduled, signed_by
from tests.documents.signing import (
    MEDIATOR_PHONE,
    last_code,
    party_phone,
    post_signature,
    request_code,
    sign_with_code,
    signature_body,
)
from tests.people import csrf, login, open_party_session


async def _count(app: web.Application, model: object, *where: object) -> int:
    async with app[sessionmaker_key]() as db:
        query = select(func.count()).select_from(model)  # type: ignore[arg-type]
        return int(await db.scalar(query.where(*where)) or 0)  # type: ignore[arg-type]


async def _reload(app: web.Application, agreement: Agreement) -> Agreement:
    async with app[sessionmaker_key]() as db:
        row = await db.get(Agreement, agreement.id)
        assert row is not None
        return row


async def test_page_names_the_signer_and_shows_the_exact_version(
    app, client, new_client, demo
) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await open_party_session(client, app, case_id, "applicant")
    page = await (await client.get(f"/agreements/{agreement.id}")).text()
    assert "签署人：赵六" in page
    assert agreement.version_hash in page  # the whole hash, not a prefix
    phone = await party_phone(app, case_id)
    assert f"{phone[:3]}****{phone[-4:]}" in page  # the phone the code goes to, masked
    assert "电子签名与手写签名具有同等法律效力" in page  # the consent statement


async def test_signature_keeps_its_evidence(app, client, demo) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await open_party_session(client, app, case_id, "applicant")
    phone = await party_phone(app, case_id)
    response = await sign_with_code(client, app, agreement, phone)
    assert response.status == 201, await response.text()
    async with app[sessionmaker_key]() as db:
        signature = await db.scalar(select(Signature).where(Signature.agreement_id == agreement.id))
        assert signature is not None
        code = await db.get(PhoneCode, signature.evidence["step_up"]["code_id"])
        session = await db.get(WebSession, signature.evidence["session_id"])
    evidence = signature.evidence
    assert code is not None and code.verified_at is not None and code.phone == phone
    assert code.subject == f"sign:{agreement.id}:{signature.signer}"
    assert evidence["step_up"]["method"] == "sms"
    assert evidence["step_up"]["verified_at"] == code.verified_at.isoformat()
    assert session is not None and evidence["link_id"] == session.link_id is not None
    assert evidence["ip"] == "127.0.0.1" and "Python" in evidence["user_agent"]
    assert evidence["version_hash"] == agreement.version_hash == signature.version_hash
    assert "同等法律效力" in evidence["consent"]


async def test_no_code_no_consent_or_a_wrong_code_signs_nothing(app, client, demo) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await open_party_session(client, app, case_id, "applicant")
    body = signature_body(agreement.version_hash)
    assert (await post_signature(client, agreement, body)).status == 400  # no code at all
    assert (await request_code(client, agreement)).status == 201
    code = await last_code(app, await party_phone(app, case_id))
    without_consent = {**signature_body(agreement.version_hash, code), "consent": False}
    response = await post_signature(client, agreement, without_consent)
    assert response.status == 400
    assert "勾选" in (await response.json())["messages"]["zh_CN"]
    wrong = "000000" if code != "000000" else "111111"
    assert (
        await post_signature(client, agreement, signature_body(agreement.version_hash, wrong))
    ).status == 400
    assert await _count(app, Signature) == 0
    good = await post_signature(client, agreement, signature_body(agreement.version_hash, code))
    assert good.status == 201  # the wrong guess cost an attempt, not the code


async def test_five_wrong_codes_lock_the_code(app, client, demo) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await open_party_session(client, app, case_id, "applicant")
    assert (await request_code(client, agreement)).status == 201
    code = await last_code(app, await party_phone(app, case_id))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        body = signature_body(agreement.version_hash, wrong)
        assert (await post_signature(client, agreement, body)).status == 400
    locked = await post_signature(client, agreement, signature_body(agreement.version_hash, code))
    assert locked.status == 409  # even the right code, once locked
    assert "验证码错误次数过多" in (await locked.json())["messages"]["zh_CN"]
    assert await _count(app, Signature) == 0


async def test_a_replayed_request_or_code_is_refused(app, client, new_client, demo) -> None:
    case_id = await scheduled(app, demo)
    first = await drafted(app, demo, case_id)
    await open_party_session(client, app, case_id, "applicant")
    assert (await request_code(client, first)).status == 201
    code = await last_code(app, await party_phone(app, case_id))
    body = signature_body(first.version_hash, code)
    assert (await post_signature(client, first, body)).status == 201
    assert (await post_signature(client, first, body)).status == 409  # the same request again
    second = await drafted(app, demo, case_id)  # the revision voids the signature
    assert (await post_signature(client, second, body)).status == 409  # old hash
    replayed_code = signature_body(second.version_hash, code)
    assert (await post_signature(client, second, replayed_code)).status == 400  # code used up
    assert await _count(app, Signature, Signature.agreement_id == second.id) == 0


async def test_another_cases_session_cannot_sign_or_get_a_code(
    app, client, new_client, demo
) -> None:
    case_a = await scheduled(app, demo)
    agreement_a = await drafted(app, demo, case_a)
    case_b = await scheduled(app, demo)
    agreement_b = await drafted(app, demo, case_b)
    await open_party_session(client, app, case_b, "applicant")
    # A real, verified code of case B's party, posted against case A's agreement.
    assert (await request_code(client, agreement_b)).status == 201
    code = await last_code(app, await party_phone(app, case_b))
    token = await csrf(client, f"/agreements/{agreement_b.id}")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    crossed = await client.post(
        f"/agreements/{agreement_a.id}/signatures",
        json=signature_body(agreement_a.version_hash, code),
        headers=headers,
    )
    assert crossed.status == 404
    asked = await client.post(f"/agreements/{agreement_a.id}/code", json={}, headers=headers)
    assert asked.status == 404
    assert await _count(app, Signature) == 0


async def test_the_mediator_signs_last_and_the_seal_makes_it_effective(
    app, client, new_client, demo
) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await login(client, "mediator")
    early = await sign_with_code_expecting(client, agreement)
    assert early.status == 409
    assert "最后签署" in (await early.json())["messages"]["zh_CN"]
    assert 'id="read-and-sign"' not in await (await client.get(f"/cases/{case_id}")).text()
    await signed_by(app, agreement, *await party_principals(app, case_id))
    assert 'id="read-and-sign"' in await (await client.get(f"/cases/{case_id}")).text()
    response = await sign_with_code(client, app, agreement, MEDIATOR_PHONE)
    assert response.status == 201 and (await response.json())["status"] == "sealing"
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None and case.status == "agreement"  # not SIGNED before the seal
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'data-agreement-status="sealing"' in page and "待办：加盖调解委员会印章" in page
    await run_pending(app)
    row = await _reload(app, agreement)
    assert row.status == "effective" and row.effective_at is not None
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None and case.status == "signed"
        receipts = list(
            await db.scalars(select(Message.recipient).where(Message.body.contains("回执")))
        )
    phones = {await party_phone(app, case_id, r) for r in ("applicant", "respondent")}
    assert sorted(receipts) == sorted(phones | {MEDIATOR_PHONE})  # one receipt per signer


async def sign_with_code_expecting(client, agreement: Agreement):
    """The mediator asks for a code before the parties have signed."""
    return await request_code(client, agreement)


async def test_decline_with_a_reason_is_shown_to_the_mediator(
    app, client, new_client, demo
) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    party = await new_client()
    await open_party_session(party, app, case_id, "respondent")
    token = await csrf(party, f"/agreements/{agreement.id}")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    url = f"/agreements/{agreement.id}/declines"
    body = {"version_hash": agreement.version_hash, "reason": "赔偿金额过高，不同意第一条"}
    assert (await party.post(url, json={**body, "reason": " "}, headers=headers)).status == 400
    stale = {**body, "version_hash": "0" * 64}
    assert (await party.post(url, json=stale, headers=headers)).status == 409
    assert (await party.post(url, json=body, headers=headers)).status == 201
    assert (await party.post(url, json=body, headers=headers)).status == 409  # once
    assert (await request_code(party, agreement)).status == 409  # no signing after declining
    assert await _count(app, SigningDecline, SigningDecline.agreement_id == agreement.id) == 1
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "拒绝签署：赔偿金额过高，不同意第一条" in page


async def test_the_room_reads_the_current_draft_as_json(app, client, new_client, demo) -> None:
    case_id = await scheduled(app, demo)
    await open_party_session(client, app, case_id, "applicant")
    empty = await client.get(f"/api/v1/cases/{case_id}/draft")
    assert empty.status == 200 and (await empty.json()) == {"case_id": case_id, "agreement": None}
    agreement = await drafted(app, demo, case_id)
    await signed_by(app, agreement, (await party_principals(app, case_id))[0])
    body = await (await client.get(f"/api/v1/cases/{case_id}/draft")).json()
    draft = body["agreement"]
    assert draft["version_hash"] == agreement.version_hash and draft["status"] == "signing"
    assert draft["content"]["terms"] == agreement.content["terms"]
    signed = [s for s in draft["signers"] if s["signed_at"]]
    assert len(signed) == 1 and len(draft["signers"]) == 3
    second = await drafted(app, demo, case_id)  # the mediator edits: the room sees the new one
    body = await (await client.get(f"/api/v1/cases/{case_id}/draft")).json()
    assert body["agreement"]["version"] == second.version == 2
    assert not any(s["signed_at"] for s in body["agreement"]["signers"])
    other_case = await scheduled(app, demo)
    stranger = await new_client()
    await open_party_session(stranger, app, other_case, "applicant")
    assert (await stranger.get(f"/api/v1/cases/{case_id}/draft")).status == 404
    assert (await (await new_client()).get(f"/api/v1/cases/{case_id}/draft")).status in (401, 404)


async def test_a_party_asks_for_a_change_on_a_clause(app, client, new_client, demo) -> None:
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    party = await new_client()
    await open_party_session(party, app, case_id, "respondent")
    token = await csrf(party, f"/cases/{case_id}")
    url = f"/api/v1/cases/{case_id}/draft/change-requests"
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "clause-2-once"}
    body = {"version_hash": agreement.version_hash, "clause": 2, "text": "通道宽度应写明为1.5米"}
    first = await party.post(url, json=body, headers=headers)
    assert first.status == 201, await first.text()
    again = await party.post(url, json=body, headers=headers)  # a retry: the same answer
    assert (await again.json())["id"] == (await first.json())["id"]
    plain = {"X-CSRF-Token": token}
    too_far = {**body, "clause": len(agreement.content["terms"]) + 1}
    assert (await party.post(url, json=too_far, headers=plain)).status == 422
    assert (await party.post(url, json={**body, "text": ""}, headers=plain)).status == 422
    stale = {**body, "version_hash": "0" * 64}
    assert (await party.post(url, json=stale, headers=plain)).status == 409
    draft = await (await party.get(f"/api/v1/cases/{case_id}/draft")).json()
    requests = draft["agreement"]["change_requests"]
    assert [(r["clause"], r["text"], r["requester"]) for r in requests] == [
        (2, "通道宽度应写明为1.5米", "钱七")
    ]
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "第2条 · 钱七: 通道宽度应写明为1.5米" in page
    mediator_token = await csrf(client, f"/cases/{case_id}")
    refused = await client.post(url, json=body, headers={"X-CSRF-Token": mediator_token})
    assert refused.status == 403
