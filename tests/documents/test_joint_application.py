"""The parties' joint application for judicial confirmation on both databases: what it says
(read back from the sealed PDF with pypdf), each party signs it with the SMS step-up, a filing
is refused until it is signed and sealed, concurrent last signatures seal it once, a filing
racing the last signature files once, and the competent court by rule or by choice with a
reason."""

from __future__ import annotations

import asyncio
import io

from aiohttp import web
from pypdf import PdfReader
from sqlalchemy import func, select

from app.db import sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Case, CaseEvent, Job, Organization
from app.storage import storage_key
from documents.application import current_application
from documents.application_pdf import seal_application
from documents.models import ApplicationSignature, CourtFiling, JointApplication
from documents.sealed import check_seal
from documents.venue import basic_court
from tests.builders import (
    application_signed_by,
    applied,
    effective,
    party_principals,
    prepared,
)
from tests.documents.signing import (
    last_code,
    party_phone,
    post_signature,
    request_code,
    sign_with_code,
    signature_body,
)
from tests.people import csrf, login, open_party_session, post_form


async def _application(app: web.Application, application_id: int) -> JointApplication:
    async with app[sessionmaker_key]() as db:
        row = await db.get(JointApplication, application_id)
        assert row is not None
        return row


async def _count(app: web.Application, column, *where) -> int:
    async with app[sessionmaker_key]() as db:
        return int(await db.scalar(select(func.count(column)).where(*where)) or 0)


def _flat(text: str) -> str:
    return "".join(text.split())


async def test_the_sealed_application_states_the_parties_agreement_and_request(app, demo) -> None:
    agreement = await effective(app, demo)
    row = await _application(app, await applied(app, demo, agreement))
    assert row.status == "sealed" and row.storage_key is not None
    pdf = await app[storage_key].get(row.storage_key)
    text = _flat("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, agreement.case_id)
    assert case is not None and case.number
    for needle in ("司法确认申请书", "赵六", "钱七", case.number, "吴江区人民法院"):
        assert _flat(needle) in text, needle
    assert "确认" in text and "调解协议" in text and "有效" in text
    assert "人民调解法》第三十三条" in text and "第二百零五条" in text
    # The text the parties signed, printed exactly.
    for paragraph in row.content["paragraphs"]:
        assert _flat(paragraph) in text, paragraph
    assert (await check_seal(app, pdf)).ok()
    attached = PdfReader(io.BytesIO(pdf)).attachments["application.json"][0]
    assert row.version_hash.encode() in attached


async def test_each_party_signs_with_the_sms_step_up(app, client, new_client, demo) -> None:
    agreement = await effective(app, demo)
    joint = await prepared(app, demo, agreement)
    case_id = agreement.case_id
    await open_party_session(client, app, case_id, "applicant")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'id="sign-application"' in page and 'id="filing-closes"' in page
    assert "赵六" in await (await client.get(f"/applications/{joint.id}")).text()
    # No code: refused, nothing written.
    response = await post_signature(client, joint, signature_body(joint.version_hash))
    assert response.status == 400
    assert await _count(app, ApplicationSignature.id) == 0
    # A wrong code does not count either.
    assert (await request_code(client, joint)).status == 201
    wrong = await post_signature(client, joint, signature_body(joint.version_hash, "000000"))
    assert wrong.status in (400, 409, 429) and await _count(app, ApplicationSignature.id) == 0
    code = await last_code(app, await party_phone(app, case_id, "applicant"))
    body = signature_body(joint.version_hash, code)
    assert (await post_signature(client, joint, body)).status == 201
    assert (await post_signature(client, joint, body)).status == 409  # once
    # The mediator is not an applicant.
    mediator = await new_client()
    await login(mediator, "mediator")
    response = await post_signature(mediator, joint, signature_body(joint.version_hash))
    assert response.status == 403
    respondent = await new_client()
    await open_party_session(respondent, app, case_id, "respondent")
    phone = await party_phone(app, case_id, "respondent")
    response = await sign_with_code(respondent, app, joint, phone)
    assert response.status == 201 and (await response.json())["status"] == "sealing"
    async with app[sessionmaker_key]() as db:
        evidence = list(await db.scalars(select(ApplicationSignature.evidence)))
    assert [e["step_up"]["method"] for e in evidence] == ["sms", "sms"]
    await run_pending(app)
    assert (await _application(app, joint.id)).status == "sealed"
    response = await respondent.get(f"/applications/{joint.id}/pdf")
    assert response.status == 200 and (await response.read()).startswith(b"%PDF")


async def test_a_party_of_another_case_sees_nothing(app, client, demo) -> None:
    joint = await prepared(app, demo, await effective(app, demo))
    other = await effective(app, demo)
    await open_party_session(client, app, other.case_id, "applicant")
    assert (await client.get(f"/applications/{joint.id}")).status == 404
    response = await post_signature(client, joint, signature_body(joint.version_hash))
    assert response.status == 404


async def test_filing_is_refused_until_every_party_signed_and_nothing_is_written(
    app, client, demo
) -> None:
    agreement = await effective(app, demo)
    case_id = agreement.case_id
    await login(client, "mediator")
    path, form = f"/cases/{case_id}/filing", {"subject": "ordinary"}

    async def refused() -> None:
        events = await _count(app, CaseEvent.id, CaseEvent.case_id == case_id)
        jobs = await _count(app, Job.id)
        response = await post_form(client, path, form, allow_redirects=False)
        page = await response.text()
        assert response.status == 409 and 'data-failed="filing"' in page
        assert "每一方当事人" in page or "各方当事人" in page, page[:200]
        assert await _count(app, CourtFiling.id) == 0
        assert await _count(app, CaseEvent.id, CaseEvent.case_id == case_id) == events
        assert await _count(app, Job.id) == jobs

    await refused()  # no application at all
    joint = await prepared(app, demo, agreement)
    first, second = await party_principals(app, case_id)
    await refused()
    await application_signed_by(app, joint, first)
    await refused()
    await application_signed_by(app, joint, second)
    await refused()  # signed by all, the seal still pending
    assert await seal_application(app, joint.id)
    response = await post_form(client, path, form, allow_redirects=False)
    assert response.status == 303
    async with app[sessionmaker_key]() as db:
        filing = await db.scalar(select(CourtFiling))
    assert filing is not None and filing.application_id == joint.id
    assert filing.court_basis == "mediation_org" and filing.court_org_id == demo["org:court"]


async def test_two_last_signatures_at_once_seal_one_pdf(app, new_client, demo) -> None:
    agreement = await effective(app, demo)
    joint = await prepared(app, demo, agreement)
    clients, bodies = [], []
    for role in ("applicant", "respondent"):
        party = await new_client()
        await open_party_session(party, app, agreement.case_id, role)
        assert (await request_code(party, joint)).status == 201
        code = await last_code(app, await party_phone(app, agreement.case_id, role))
        clients.append(party)
        bodies.append(signature_body(joint.version_hash, code))
    responses = await asyncio.gather(
        *(post_signature(c, joint, b) for c, b in zip(clients, bodies, strict=True))
    )
    assert [r.status for r in responses] == [201, 201]
    statuses = sorted([(await r.json())["status"] for r in responses])
    assert statuses == ["sealing", "signing"]  # the second to commit saw the first
    assert await _count(app, Job.id, Job.kind == "seal_application") == 1
    kinds = ("application_signed_by_all",)
    assert await _count(app, CaseEvent.id, CaseEvent.kind.in_(kinds)) == 1
    # The job and a second run of it at once: one PDF.
    results = await asyncio.gather(seal_application(app, joint.id), run_pending(app))
    assert results[0] in (True, False)
    row = await _application(app, joint.id)
    assert row.status == "sealed" and row.sha256
    assert await _count(app, CaseEvent.id, CaseEvent.kind == "application_sealed") == 1
    assert not await seal_application(app, joint.id)


async def test_a_filing_racing_the_last_signature_files_once(app, client, demo) -> None:
    agreement = await effective(app, demo)
    case_id = agreement.case_id
    joint = await prepared(app, demo, agreement)
    first, last = await party_principals(app, case_id)
    await application_signed_by(app, joint, first)
    await login(client, "mediator")
    form = {"subject": "ordinary"}

    async def file() -> int:
        response = await post_form(client, f"/cases/{case_id}/filing", form, allow_redirects=False)
        return response.status

    async def last_signature() -> None:
        await application_signed_by(app, joint, last)
        await seal_application(app, joint.id)

    outcome = await asyncio.gather(file(), last_signature(), file(), file())
    statuses = [s for s in outcome if s is not None]
    assert all(s in (303, 409) for s in statuses), statuses
    if 303 not in statuses:  # every attempt came before the seal: the next one files
        assert await file() == 303
    assert await file() == 409
    assert await _count(app, CourtFiling.id, CourtFiling.case_id == case_id) == 1
    filed = (CaseEvent.case_id == case_id, CaseEvent.kind == "filed")
    assert await _count(app, CaseEvent.id, *filed) == 1
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
    assert case is not None and case.status == "filed"


async def test_the_competent_court_by_rule_or_by_choice_with_a_reason(app, client, demo) -> None:
    async with transaction(app) as db:
        other = Organization(name="某某县人民法院", short_name="某", tier="district", kind="court")
        db.add(other)
        await db.flush()
        other_id = other.id
        town = await db.get(Organization, demo["org:town"])
        assert town is not None
        # The town has no court of its own: the district's, its nearest ancestor's.
        assert (await basic_court(db, town.id)).id == demo["org:court"]  # type: ignore[union-attr]
    agreement = await effective(app, demo)
    case_id = agreement.case_id
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'id="basic-court"' in page and "吴江区人民法院" in page
    path = f"/cases/{case_id}/application"
    for form, status, needle in (
        ({"court_basis": "mediation_org", "court_org_id": str(other_id)}, 409, "基层人民法院"),
        ({"court_basis": "domicile", "court_org_id": str(other_id)}, 422, "理由"),
        ({"court_basis": "subject", "court_reason": "房屋位于某某县"}, 422, "法院"),
        ({"court_basis": "elsewhere"}, 422, ""),
    ):
        response = await post_form(client, path, form, allow_redirects=False)
        page = await response.text()
        assert response.status == status and 'data-failed="application"' in page, form
        assert needle in page, form
    assert await _count(app, JointApplication.id) == 0
    form = {
        "court_basis": "domicile",
        "court_org_id": str(other_id),
        "court_reason": "被申请人住所地",
    }
    assert (await post_form(client, path, form, allow_redirects=False)).status == 303
    async with app[sessionmaker_key]() as db:
        joint = await current_application(db, case_id)
    assert joint is not None and joint.court_org_id == other_id
    assert joint.court_reason == "被申请人住所地"
    assert any("被申请人住所地" in line for line in joint.content["paragraphs"])
    await application_signed_by(app, joint, *await party_principals(app, case_id))
    await seal_application(app, joint.id)
    # Filing with a court other than the one the application names is refused.
    response = await post_form(
        client,
        f"/cases/{case_id}/filing",
        {"subject": "ordinary", "court_org_id": str(demo["org:court"])},
        allow_redirects=False,
    )
    assert response.status == 409 and "某某县人民法院" in await response.text()
    response = await post_form(
        client, f"/cases/{case_id}/filing", {"subject": "ordinary"}, allow_redirects=False
    )
    assert response.status == 303
    async with app[sessionmaker_key]() as db:
        filing = await db.scalar(select(CourtFiling).where(CourtFiling.case_id == case_id))
    assert filing is not None and filing.court_org_id == other_id
    assert (filing.court_basis, filing.court_reason) == ("domicile", "被申请人住所地")


async def test_without_a_configured_court_the_mediator_must_choose_one(app, client, demo) -> None:
    async with transaction(app) as db:
        district = await db.get(Organization, demo["org:district"])
        assert district is not None
        district.court_org_id = None
    agreement = await effective(app, demo)
    await login(client, "mediator")
    response = await post_form(
        client,
        f"/cases/{agreement.case_id}/application",
        {"court_basis": "mediation_org"},
        allow_redirects=False,
    )
    assert response.status == 409 and "未配置" in await response.text()


async def test_the_mediator_sees_the_checks_before_filing(app, client, demo) -> None:
    agreement = await effective(app, demo)
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{agreement.case_id}")).text()
    for check in ("window", "signatures", "subject"):
        assert f'data-check="{check}"' in page, check
    assert 'data-blocked="personal_status"' in page and 'data-blocked="ownership"' in page
    assert 'data-ok="no"' in page
    await applied(app, demo, agreement)
    page = await (await client.get(f"/cases/{agreement.case_id}")).text()
    assert 'data-ok="yes"' in page and 'data-check="court"' in page


async def test_a_party_declines_with_a_reason_and_the_mediator_prepares_again(
    app, client, new_client, demo
) -> None:
    agreement = await effective(app, demo)
    case_id = agreement.case_id
    joint = await prepared(app, demo, agreement)
    await open_party_session(client, app, case_id, "respondent")
    token = await csrf(client, f"/applications/{joint.id}")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    path = f"/applications/{joint.id}/declines"
    short = {"version_hash": joint.version_hash, "reason": "不"}
    assert (await client.post(path, json=short, headers=headers)).status == 400
    body = {"version_hash": joint.version_hash, "reason": "希望向住所地法院申请"}
    assert (await client.post(path, json=body, headers=headers)).status == 201
    assert (await client.post(path, json=body, headers=headers)).status == 409
    refused = await post_signature(client, joint, signature_body(joint.version_hash, "123456"))
    assert refused.status == 409
    mediator = await new_client()
    await login(mediator, "mediator")
    assert "希望向住所地法院申请" in await (await mediator.get(f"/cases/{case_id}")).text()
    again = await prepared(app, demo, agreement)
    assert (await _application(app, joint.id)).status == "void"
    assert (await _application(app, again.id)).status == "signing"
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert f'href="/applications/{again.id}"' in page and 'id="sign-application"' in page
