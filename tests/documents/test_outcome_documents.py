"""Documents produced from the outcome: the termination notice (art. 26) names the routes and is
texted with a link, the oral-agreement record (art. 28), the mediator's minutes; each a sealed
PDF read back, authorised against its case, known to /verify (both databases)."""

from __future__ import annotations

import asyncio
from hashlib import sha256

from sqlalchemy import event

from app.db import engine_key, transaction
from app.settings import settings_key
from app.storage import storage_root
from documents.case_documents import outcome_document
from documents.case_pdf import produce
from documents.sealed import check_seal, verify_report
from tests.builders import scheduled
from tests.documents.case_docs import documents, record_outcome, sms_bodies, stored_pdf
from tests.documents.test_verify_page import post_pdf
from tests.pdf_reading import pdf_text
from tests.people import login, open_party_session, post_form

REASON = "申请人坚持要求赔偿二万元，被申请人只同意赔偿五千元，双方差距过大。"


async def test_termination_notice_names_the_routes_sealed_and_texted(app, client, new_client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    await record_outcome(client, case_id, "terminated", REASON)
    (notice,) = await documents(app, case_id, "termination")
    pdf = await stored_pdf(app, notice)
    assert sha256(pdf).hexdigest() == notice.sha256
    text = pdf_text(pdf).replace("\n", "")
    routes = ("申请仲裁", "行政机关", "人民法院提起诉讼")
    for needed in ("终止调解告知书", "第二十六条", REASON, *routes):
        assert needed in text, needed
    assert notice.content["case_number"] in text
    assert (await check_seal(app, pdf)).ok()
    links = [b for b in await sms_bodies(app, case_id) if "终止调解告知书" in b and "/p/" in b]
    assert len(links) == 2  # one per party, each with a fresh link

    party = await new_client()
    await open_party_session(party, app, case_id, "respondent")
    page = await party.get(f"/cases/{case_id}")
    assert f"/case-documents/{notice.id}/pdf" in await page.text()
    listing = await (await party.get(f"/api/v1/cases/{case_id}/documents")).json()
    assert [(d["kind"], d["sha256"]) for d in listing["documents"]] == [
        ("termination", notice.sha256)
    ]
    download = await party.get(listing["documents"][0]["pdf_url"])
    assert download.status == 200 and await download.read() == pdf

    other_case = await scheduled(app, demo)
    stranger = await new_client()
    await open_party_session(stranger, app, other_case, "applicant")
    assert (await stranger.get(f"/case-documents/{notice.id}/pdf")).status == 404

    verify = await post_pdf(stranger, pdf)
    body = await verify.text()
    assert 'class="ok" id="verify-result"' in body
    assert 'class="ok" id="verify-record"' in body and notice.content["case_number"] in body
    report = await verify_report(app, pdf)  # what `python -m app verify FILE` prints
    assert report["valid"] and report["on_record"] and report["version"] == 1


async def test_oral_agreement_record_and_minutes(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    bad = await post_form(
        client,
        f"/cases/{case_id}/minutes",
        {"started_at": "明天", "place": "", "attendees": "", "record": "短"},
    )
    assert bad.status == 422
    page = await bad.text()
    assert 'id="minutes-form"' in page and "aria-invalid" in page
    assert await documents(app, case_id, "minutes") == []  # nothing stored

    minutes = {
        "started_at": "2026-11-20T14:30",
        "place": "镇人民调解委员会调解室",
        "attendees": "申请人 赵六\n被申请人 钱七\n人民调解员 调解员",
        "record": "申请人陈述：被申请人借款五千元到期未还。\n被申请人陈述：同意分两期归还。",
    }
    saved = await post_form(client, f"/cases/{case_id}/minutes", minutes, allow_redirects=False)
    assert saved.status == 303
    await record_outcome(client, case_id, "oral_agreement", "钱七于十二月底前归还赵六五千元。")

    (record,) = await documents(app, case_id, "oral_agreement")
    text = pdf_text(await stored_pdf(app, record)).replace("\n", "")
    for needed in ("口头调解协议记录", "钱七于十二月底前归还赵六五千元。", "第二十八条", "赵六"):
        assert needed in text, needed
    (minutes_doc,) = await documents(app, case_id, "minutes")
    pdf = await stored_pdf(app, minutes_doc)
    text = pdf_text(pdf).replace("\n", "")
    printed = ("镇人民调解委员会调解室", "被申请人 钱七", "同意分两期归还", "2026年11月20日 14:30")
    for needed in ("人民调解笔录", *printed):
        assert needed in text, needed
    assert (await check_seal(app, pdf)).ok()


async def test_two_runs_of_the_render_job_store_one_file(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    await record_outcome(client, case_id, "terminated", REASON)
    async with transaction(app) as db:  # what the outcome job does, without running the render
        document = await outcome_document(db, case_id)
    assert document is not None and document.sha256 is None
    results = await asyncio.gather(produce(app, document.id), produce(app, document.id))
    assert sorted(results) == [False, True]
    (done,) = await documents(app, case_id, "termination")
    assert done.id == document.id and done.storage_key is not None
    folder = storage_root(app[settings_key]) / "cases" / str(case_id) / "documents"
    assert [p.name for p in folder.glob("*.pdf")] == [done.storage_key.rsplit("/", 1)[1]]


async def test_the_document_list_costs_the_same_statements_for_one_or_many(app, client, demo):
    case_id = await scheduled(app, demo)
    await login(client, "mediator")
    statements: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def listing() -> tuple[int, int, int]:
        engine = app[engine_key].sync_engine
        statements.clear()
        event.listen(engine, "before_cursor_execute", counted)
        try:
            api = await client.get(f"/api/v1/cases/{case_id}/documents")
            api_count = len(statements)
            statements.clear()
            page = await client.get(f"/cases/{case_id}")
            assert api.status == 200 and page.status == 200
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        return api_count, len(statements), len((await api.json())["documents"])

    minutes = {
        "started_at": "2026-11-20T14:30",
        "place": "调解室",
        "attendees": "申请人 赵六",
        "record": "双方陈述了各自的意见。",
    }

    async def record(times: int) -> None:
        for _ in range(times):
            path = f"/cases/{case_id}/minutes"
            assert (await post_form(client, path, minutes, allow_redirects=False)).status == 303

    await record(1)
    one = await listing()
    await record(3)
    many = await listing()
    assert (one[2], many[2]) == (1, 4)
    assert one[:2] == many[:2]  # the API and the case page: no statement per document
