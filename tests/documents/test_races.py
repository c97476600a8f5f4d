"""Things that must happen once, tried by concurrent clients against the real app on both
databases: an agreement goes to the seal once and takes effect once, a revision never crosses a
last signature, and a court rules once. Also: the court inbox costs the same few statements
whatever its length."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import event, func, select

from app.auth import create_api_token
from app.db import engine_key, sessionmaker_key, transaction
from app.models import Case, CaseEvent, Job
from documents.models import Agreement, SealedPdf, Signature
from documents.sealed import seal_agreement
from tests.builders import (
    accepted,
    applied,
    draft_form,
    drafted,
    filed,
    party_principals,
    scheduled,
    signed_by,
    staff,
)
from tests.documents.signing import (
    MEDIATOR_PHONE,
    last_code,
    party_phone,
    post_signature,
    request_code,
    signature_body,
)
from tests.people import csrf, login, open_party_session, post_form


async def count(app: web.Application, model: object, *where: object) -> int:
    async with app[sessionmaker_key]() as db:
        query = select(func.count()).select_from(model)  # type: ignore[arg-type]
        return int(await db.scalar(query.where(*where)) or 0)  # type: ignore[arg-type]


async def code_for(client, app: web.Application, agreement: Agreement, phone: str) -> str:
    assert (await request_code(client, agreement)).status == 201
    return await last_code(app, phone)


async def test_simultaneous_signers_hand_it_to_the_seal_once_and_it_takes_effect_once(
    app, client, new_client, demo
) -> None:
    await login(client, "mediator")
    for _trial in range(2):
        case_id = await scheduled(app, demo)
        agreement = await drafted(app, demo, case_id)
        applicant, respondent = await new_client(), await new_client()
        await open_party_session(applicant, app, case_id, "applicant")
        await open_party_session(respondent, app, case_id, "respondent")
        signers = [
            (applicant, await party_phone(app, case_id, "applicant")),
            (respondent, await party_phone(app, case_id, "respondent")),
        ]
        bodies = [
            signature_body(agreement.version_hash, await code_for(c, app, agreement, phone))
            for c, phone in signers
        ]
        # The mediator may only ask for a code once every party has signed: race the parties.
        responses = await asyncio.gather(
            *(
                post_signature(c, agreement, body)
                for (c, _), body in zip(signers, bodies, strict=True)
            )
        )
        assert [r.status for r in responses] == [201, 201]
        mediator_code = await code_for(client, app, agreement, MEDIATOR_PHONE)
        last = await post_signature(
            client, agreement, signature_body(agreement.version_hash, mediator_code)
        )
        assert last.status == 201 and (await last.json())["status"] == "sealing"
        # The seal job may run twice (at-least-once): it takes effect exactly once.
        outcomes = await asyncio.gather(*(seal_agreement(app, agreement.id) for _ in range(3)))
        assert sorted(outcomes) == [False, False, True]
        async with app[sessionmaker_key]() as db:
            row = await db.get(Agreement, agreement.id)
            case = await db.get(Case, case_id)
        assert row is not None and row.status == "effective" and row.effective_at is not None
        assert case is not None and case.status == "signed"
        assert await count(app, Signature, Signature.agreement_id == agreement.id) == 3
        assert await count(app, SealedPdf, SealedPdf.agreement_id == agreement.id) == 1
        for kind in ("agreement_signed_by_all", "agreement_effective"):
            events = await count(
                app, CaseEvent, CaseEvent.case_id == case_id, CaseEvent.kind == kind
            )
            assert events == 1, kind
        seal_jobs = [
            job
            for job in await jobs(app, "seal_agreement")
            if job.payload["agreement_id"] == agreement.id
        ]
        assert len(seal_jobs) == 1


async def jobs(app: web.Application, kind: str) -> list[Job]:
    async with app[sessionmaker_key]() as db:
        return list(await db.scalars(select(Job).where(Job.kind == kind)))


async def test_a_revision_and_the_last_signature_never_both_win(app, client, demo) -> None:
    await login(client, "mediator")
    for _trial in range(3):
        case_id = await scheduled(app, demo)
        agreement = await drafted(app, demo, case_id)
        await signed_by(app, agreement, *await party_principals(app, case_id))
        code = await code_for(client, app, agreement, MEDIATOR_PHONE)
        token = await csrf(client)
        sign, revise = await asyncio.gather(
            client.post(
                f"/agreements/{agreement.id}/signatures",
                json=signature_body(agreement.version_hash, code),
                headers={"X-CSRF-Token": token, "Accept": "application/json"},
            ),
            client.post(
                f"/cases/{case_id}/agreement",
                data={**draft_form(performance="现金支付"), "_csrf": token},
                allow_redirects=False,
            ),
        )
        assert sorted((sign.status, revise.status)) in ([201, 409], [303, 409])
        async with app[sessionmaker_key]() as db:
            versions = list(await db.scalars(select(Agreement).where(Agreement.case_id == case_id)))
        live = [a for a in versions if a.status != "void"]
        assert len(live) == 1
        if sign.status == 201:
            assert live[0].id == agreement.id and live[0].status == "sealing"
        else:
            assert live[0].version == 2 and live[0].status == "signing"


async def test_six_simultaneous_rulings_one_wins(app, client, demo) -> None:
    filing_id = await accepted(app, demo)
    async with transaction(app) as db:
        token = await create_api_token(db, demo["user:judge"], "test")
    headers = {"Authorization": f"Bearer {token}"}
    sms_before = len(await jobs(app, "sms"))
    bodies = [{"decision": "confirmed"}] * 3 + [{"decision": "dismissed", "note": "违反法律"}] * 3
    responses = await asyncio.gather(
        *(
            client.post(f"/api/v1/court/filings/{filing_id}/decision", json=b, headers=headers)
            for b in bodies
        )
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 5, statuses
    refused = [await r.json() for r in responses if r.status == 409]
    assert all(body["error"] == "conflict" for body in refused)
    assert refused[0]["messages"]["en"] in (
        "This application was changed meanwhile. Please reload the page.",
        "This application cannot take this step in its present state.",
    )
    assert refused[0]["messages"]["zh_CN"] != refused[0]["messages"]["en"]
    winner = await next(r for r in responses if r.status == 200).json()
    async with app[sessionmaker_key]() as db:
        kinds = list(
            await db.scalars(
                select(CaseEvent.kind).where(CaseEvent.kind.in_(("confirmed", "dismissed")))
            )
        )
        case_status = await db.scalar(
            select(Case.status).join(Agreement, Agreement.case_id == Case.id)
        )
    assert kinds == [winner["status"]] and case_status == winner["status"]
    # The mediator is texted once; the parties once the sealed ruling is served, by one job.
    assert len(await jobs(app, "sms")) == sms_before + 1
    assert len(await jobs(app, "render_ruling")) == 1


async def test_court_inbox_costs_the_same_statements_for_one_or_many(app, client, demo) -> None:
    async with transaction(app) as db:
        token = await create_api_token(db, demo["user:clerk"], "test")
    headers = {"Authorization": f"Bearer {token}"}
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def inbox_statements() -> tuple[int, int]:
        statements.clear()
        response = await client.get("/api/v1/court/inbox", headers=headers)
        assert response.status == 200
        return len(statements), len((await response.json())["filings"])

    engine = app[engine_key].sync_engine
    await filed(app, demo)
    event.listen(engine, "before_cursor_execute", counted)
    try:
        one = await inbox_statements()
        event.remove(engine, "before_cursor_execute", counted)
        for _ in range(4):
            await filed(app, demo)
        event.listen(engine, "before_cursor_execute", counted)
        many = await inbox_statements()
    finally:
        if event.contains(engine, "before_cursor_execute", counted):
            event.remove(engine, "before_cursor_execute", counted)
    assert one[1] == 1 and many[1] == 5
    assert one[0] == many[0], (one, many)


async def test_mediator_page_flow_still_files_once(app, client, demo) -> None:
    """The HTML form path: filing twice answers 409 the second time."""
    case_id = await scheduled(app, demo)
    agreement = await drafted(app, demo, case_id)
    await signed_by(
        app,
        agreement,
        *await party_principals(app, case_id),
        staff(demo, "mediator", "mediator", "town"),
    )
    await seal_agreement(app, agreement.id)
    await applied(app, demo, agreement)
    await login(client, "mediator")
    form = {"court_org_id": str(demo["org:court"]), "subject": "ordinary"}
    first = await post_form(client, f"/cases/{case_id}/filing", form, allow_redirects=False)
    second = await post_form(client, f"/cases/{case_id}/filing", form, allow_redirects=False)
    assert (first.status, second.status) == (303, 409)
