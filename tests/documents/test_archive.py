"""The case's archive (卷宗, art. 27): produced once at closing, again on demand as a new
version; one sealed PDF with the case number, every section, the evidence hashes and the audit
chain's head; staff only (both databases)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.jobs import enqueue
from app.models import CaseEvent
from documents.archive import SECTIONS, archive_at_closing
from documents.sealed import check_seal
from tests.booking.test_evidence import JPEG, upload
from tests.builders import effective, scheduled
from tests.documents.case_docs import documents, record_outcome, stored_pdf
from tests.pdf_reading import pdf_text
from tests.people import login, open_party_session, post_form

MINUTES = {
    "started_at": "2026-11-20T09:00",
    "place": "村调解室",
    "attendees": "申请人 赵六\n被申请人 钱七",
    "record": "双方就借款本金和利息进行了协商，同意由钱七归还本金。",
}


async def _chain_head_before_archive(app, case_id: int) -> str:
    async with app[sessionmaker_key]() as db:
        events = list(
            await db.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )
    kinds = [e.kind for e in events]
    before = events[: kinds.index("archive_requested")]
    assert before[-1].hash
    return before[-1].hash


async def test_archive_at_closing_holds_every_section(app, client, new_client, demo):
    case_id = await scheduled(app, demo)
    party = await new_client()
    await open_party_session(party, app, case_id, "applicant")
    assert (await upload(party, case_id, JPEG, "欠条照片.jpg")).status == 303
    await login(client, "mediator")
    minutes = await post_form(client, f"/cases/{case_id}/minutes", MINUTES, allow_redirects=False)
    assert minutes.status == 303
    await record_outcome(client, case_id, "oral_agreement", "钱七于月底前归还本金五千元。")
    closed = await post_form(client, f"/cases/{case_id}/close", {}, allow_redirects=False)
    assert closed.status == 303

    (archive,) = await documents(app, case_id, "archive")
    pdf = await stored_pdf(app, archive)
    assert (await check_seal(app, pdf)).ok()
    text = pdf_text(pdf).replace("\n", "")
    assert archive.content["case_number"] and archive.content["case_number"] in text
    for heading in SECTIONS:
        assert heading in text, heading
    (evidence,) = archive.content["evidence"]
    assert evidence["sha256"] in text and "欠条照片.jpg" in text
    (minutes_doc,) = await documents(app, case_id, "minutes")
    assert minutes_doc.sha256 in text  # the minutes were sealed before closing
    head = await _chain_head_before_archive(app, case_id)
    assert archive.content["chain_head"] == head and head in text
    assert "钱七于月底前归还本金五千元。" in text
    (oral,) = await documents(app, case_id, "oral_agreement")
    assert oral.sha256 in text  # produced before the archive that lists it
    assert "110105********002X" not in text and "13600000000" not in text  # masked

    # The closing job again (a retry) and concurrent runs: still one archive.
    async with transaction(app) as db:
        await enqueue(db, "archive_case", {"case_id": case_id})
    await asyncio.gather(*(_archive_once(app, case_id) for _ in range(3)))
    assert len(await documents(app, case_id, "archive")) == 1

    # The party does not see the archive; staff produce a new version on demand.
    assert (await party.get(f"/case-documents/{archive.id}/pdf")).status == 404
    party_page = await (await party.get(f"/cases/{case_id}")).text()
    assert 'data-document-kind="archive"' not in party_page and "已立卷归档" not in party_page
    outsider = await new_client()
    await login(outsider, "mediator2")  # a mediator of the village, not on this case
    assert (await outsider.get(f"/case-documents/{archive.id}/pdf")).status == 404
    again = await post_form(client, f"/cases/{case_id}/archive", {}, allow_redirects=False)
    assert again.status == 303
    first, second = await documents(app, case_id, "archive")
    assert (first.id, second.version) == (archive.id, 2) and second.sha256 != first.sha256
    listing = await (await client.get(f"/api/v1/cases/{case_id}/documents")).json()
    archives = [d for d in listing["documents"] if d["kind"] == "archive"]
    assert [d["version"] for d in archives] == [1, 2]
    party_listing = await (await party.get(f"/api/v1/cases/{case_id}/documents")).json()
    assert "archive" not in {d["kind"] for d in party_listing["documents"]}
    download = await client.get(f"/case-documents/{second.id}/pdf")
    assert download.status == 200 and await download.read() == await stored_pdf(app, second)


async def _archive_once(app, case_id: int) -> None:
    async with transaction(app) as db:
        await archive_at_closing(db, case_id)


async def test_archive_of_a_signed_agreement_carries_its_signature_evidence(app, client, demo):
    agreement = await effective(app, demo)
    case_id = agreement.case_id
    await login(client, "mediator")
    early = await post_form(client, f"/cases/{case_id}/archive", {}, allow_redirects=False)
    assert early.status == 409  # no outcome yet
    await record_outcome(client, case_id, "written_agreement")
    response = await post_form(client, f"/cases/{case_id}/archive", {}, allow_redirects=False)
    assert response.status == 303
    (archive,) = await documents(app, case_id, "archive")
    text = pdf_text(await stored_pdf(app, archive)).replace("\n", "")
    assert agreement.version_hash in text
    signatures = archive.content["signatures"]
    assert len(signatures) == 3  # two parties and the mediator
    for signature in signatures:
        assert signature["image_sha256"] in text
