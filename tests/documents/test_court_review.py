"""The court's side of judicial confirmation on both databases: every step happens once under
concurrent clients (review, extension, ruling against withdrawal, filing again), a court sees
nothing of another court, the 15-day clock counts Beijing days, and a refused step keeps the
clerk on the inbox with the message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import func, select

from app.auth import Principal, create_api_token, hash_password
from app.db import sessionmaker_key, transaction
from app.models import Case, CaseEvent, Organization, StaffUser
from documents import court, court_review
from documents.court_clocks import BEIJING
from documents.models import CourtFiling
from tests.builders import accepted, filed, staff
from tests.people import login, open_party_session, post_form


async def bearer(app: web.Application, staff_id: int) -> dict[str, str]:
    async with transaction(app) as db:
        return {"Authorization": f"Bearer {await create_api_token(db, staff_id, 'test')}"}


async def filing_row(app: web.Application, filing_id: int) -> CourtFiling:
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        return filing


async def events(app: web.Application, case_id: int, *kinds: str) -> list[str]:
    async with app[sessionmaker_key]() as db:
        return list(
            await db.scalars(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(kinds))
                .order_by(CaseEvent.id)
            )
        )


async def post_all(client, path: str, bodies: list[dict], headers: dict) -> list[int]:
    responses = await asyncio.gather(*(client.post(path, json=b, headers=headers) for b in bodies))
    return [r.status for r in responses]


async def test_concurrent_reviews_take_one_step(app, client, demo) -> None:
    filing_id = await filed(app, demo)
    headers = await bearer(app, demo["user:clerk"])
    bodies = (
        [{"outcome": "accepted", "court_case_number": f"(2026)苏0509民特{n}号"} for n in range(3)]
        + [{"outcome": "supplement", "note": "请补充身份证明"}] * 2
        + [{"outcome": "not_accepted", "note": "不属于本院管辖"}]
    )
    path = f"/api/v1/court/filings/{filing_id}/review"
    statuses = await post_all(client, path, bodies, headers)
    assert sorted(statuses) == [200] + [409] * 5, statuses
    filing = await filing_row(app, filing_id)
    steps = await events(
        app, filing.case_id, "court_accepted", "court_supplement", "court_not_accepted"
    )
    assert len(steps) == 1
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, filing.case_id)
    assert case is not None
    assert case.status == ("signed" if filing.status == "not_accepted" else "filed")
    if filing.status == "accepted":
        assert filing.court_case_number and filing.ruling_due_at and filing.accepted_at


async def test_a_court_case_number_is_used_once_per_court(app, client, demo) -> None:
    first, second = await filed(app, demo), await filed(app, demo)
    headers = await bearer(app, demo["user:clerk"])
    body = {"outcome": "accepted", "court_case_number": "(2026)苏0509民特7号"}
    statuses = await asyncio.gather(
        *(
            client.post(f"/api/v1/court/filings/{f}/review", json=body, headers=headers)
            for f in (first, second)
        )
    )
    assert sorted(r.status for r in statuses) == [200, 409]
    refused = next(r for r in statuses if r.status == 409)
    assert "case number" in (await refused.json())["messages"]["en"]
    assert {(await filing_row(app, f)).status for f in (first, second)} == {"accepted", "filed"}


async def test_the_extension_happens_once_and_moves_the_clock_by_ten_days(
    app, client, demo
) -> None:
    filing_id = await accepted(app, demo)
    before = (await filing_row(app, filing_id)).ruling_due_at
    headers = await bearer(app, demo["user:judge"])
    body = {"approved_by": "院长 张某", "reason": "需要询问双方当事人"}
    path = f"/api/v1/court/filings/{filing_id}/extension"
    assert sorted(await post_all(client, path, [body] * 4, headers)) == [200, 409, 409, 409]
    after = await filing_row(app, filing_id)
    assert before is not None and after.ruling_due_at is not None
    assert 10 <= (after.ruling_due_at - before).days <= 13  # a weekend may push the last day
    assert after.extension_approved_by == "院长 张某"
    assert await events(app, after.case_id, "court_extended") == ["court_extended"]


async def test_a_ruling_and_a_withdrawal_never_both_win(app, client, new_client, demo) -> None:
    for _trial in range(2):
        filing_id = await accepted(app, demo)
        filing = await filing_row(app, filing_id)
        party = await new_client()
        await open_party_session(party, app, filing.case_id, "applicant")
        headers = await bearer(app, demo["user:judge"])
        ruling, withdrawal = await asyncio.gather(
            client.post(
                f"/api/v1/court/filings/{filing_id}/decision",
                json={"decision": "confirmed"},
                headers=headers,
            ),
            post_form(
                party,
                f"/cases/{filing.case_id}/filing/withdrawal",
                {"note": "双方已自行履行"},
                allow_redirects=False,
            ),
        )
        assert sorted((ruling.status, withdrawal.status)) in ([200, 409], [303, 409])
        after = await filing_row(app, filing_id)
        async with app[sessionmaker_key]() as db:
            case = await db.get(Case, filing.case_id)
        assert case is not None
        if ruling.status == 200:
            assert after.status == "confirmed" and case.status == "confirmed"
        else:
            assert after.status == "withdrawn" and case.status == "signed"
            assert after.withdrawn_by and after.withdrawn_by.startswith("party:")


async def test_after_not_accepted_the_agreement_is_filed_again_once(app, client, demo) -> None:
    filing_id = await filed(app, demo)
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        clerk = staff(demo, "clerk", "court_clerk", "court")
        await court_review.review(
            db, clerk, filing, "not_accepted", note="应由被申请人住所地法院管辖"
        )
        case_id, agreement_id = filing.case_id, filing.agreement_id
    await login(client, "mediator")
    attempts = await asyncio.gather(
        *(
            post_form(
                client,
                f"/cases/{case_id}/filing",
                {"court_org_id": str(demo["org:court"]), "subject": "ordinary"},
                allow_redirects=False,
            )
            for _ in range(3)
        )
    )
    assert sorted(r.status for r in attempts) == [303, 409, 409]
    async with app[sessionmaker_key]() as db:
        statuses = list(
            await db.scalars(
                select(CourtFiling.status)
                .where(CourtFiling.agreement_id == agreement_id)
                .order_by(CourtFiling.id)
            )
        )
        case = await db.get(Case, case_id)
    assert statuses == ["not_accepted", "filed"] and case is not None and case.status == "filed"


async def test_a_court_sees_nothing_of_another_court(app, client, demo) -> None:
    filing_id = await filed(app, demo)
    async with transaction(app) as db:
        other = Organization(name="另一法院", short_name="另", tier="district", kind="court")
        db.add(other)
        await db.flush()
        people = [
            StaffUser(
                org_id=other.id,
                username=f"other-{role}",
                display_name=role,
                role=role,
                password_hash=hash_password("x" * 12),
            )
            for role in ("court_clerk", "judge")
        ]
        db.add_all(people)
        await db.flush()
        ids = [p.id for p in people]
    for staff_id, step, body in (
        (ids[0], "review", {"outcome": "accepted", "court_case_number": "(2026)X1号"}),
        (ids[1], "decision", {"decision": "confirmed"}),
    ):
        headers = await bearer(app, staff_id)
        inbox = await client.get("/api/v1/court/inbox", headers=headers)
        assert inbox.status == 200 and (await inbox.json())["filings"] == []
        refused = await client.post(
            f"/api/v1/court/filings/{filing_id}/{step}", json=body, headers=headers
        )
        assert refused.status == 404
        case_id = (await filing_row(app, filing_id)).case_id
        assert (await client.get(f"/api/v1/cases/{case_id}", headers=headers)).status in (403, 404)
    assert (await filing_row(app, filing_id)).status == "filed"


async def test_the_ruling_clock_counts_beijing_days_from_the_day_after_acceptance(
    app, demo
) -> None:
    clerk = staff(demo, "clerk", "court_clerk", "court")
    dues = []
    # Tuesday 1 December 2026, first and last minute (Beijing): the same clock. Day 15 is
    # Wednesday 16 December: due at its 24:00.
    for local in (datetime(2026, 12, 1, 0, 0), datetime(2026, 12, 1, 23, 59)):
        filing_id = await filed(app, demo)
        async with transaction(app) as db:
            filing = await db.get(CourtFiling, filing_id)
            assert filing is not None
            now = local.replace(tzinfo=BEIJING).astimezone(UTC)
            number = f"(2026)苏0509民特{filing_id}号"
            await court_review.review(
                db, clerk, filing, "accepted", court_case_number=number, now=now
            )
            dues.append(filing.ruling_due_at)
    assert dues[0] == dues[1] == datetime(2026, 12, 17, tzinfo=BEIJING).astimezone(UTC)


async def test_the_inbox_puts_what_waits_first_and_flags_the_overdue(app, client, demo) -> None:
    waiting, due = await filed(app, demo), await accepted(app, demo)
    async with transaction(app) as db:
        row = await db.get(CourtFiling, due)
        assert row is not None
        row.ruling_due_at = datetime(2026, 1, 1, tzinfo=UTC)  # long past
    judge = Principal(
        kind="staff", staff_id=demo["user:judge"], role="judge", org_id=demo["org:court"]
    )
    clerk = staff(demo, "clerk", "court_clerk", "court")
    async with app[sessionmaker_key]() as db:
        assert [i.filing.id for i in await court.inbox(db, judge)][:2] == [due, waiting]
        assert [i.filing.id for i in await court.inbox(db, clerk)][:2] == [waiting, due]
    await login(client, "judge")
    page = await (await client.get("/court/inbox")).text()
    assert f'id="filing-{due}"' in page and 'data-clock="overdue"' in page


async def test_a_refused_review_keeps_the_clerk_on_the_inbox_with_the_message(
    app, client, demo
) -> None:
    filing_id = await filed(app, demo)
    await login(client, "clerk")
    response = await post_form(
        client,
        f"/court/filings/{filing_id}/review",
        {"outcome": "not_accepted", "note": "  ", "court_case_number": "(2026)苏0509民特3号"},
    )
    assert response.status == 422
    page = await response.text()
    assert 'data-failed="review"' in page and "(2026)苏0509民特3号" in page
    async with app[sessionmaker_key]() as db:
        assert (await db.get(CourtFiling, filing_id)).status == "filed"  # type: ignore[union-attr]
    judge_only = await post_form(
        client, f"/court/filings/{filing_id}/decision", {"decision": "confirmed"}
    )
    assert judge_only.status == 403


async def test_a_supplement_goes_back_to_the_mediator_and_returns(app, client, demo) -> None:
    filing_id = await filed(app, demo)
    async with transaction(app) as db:
        filing = await db.get(CourtFiling, filing_id)
        assert filing is not None
        clerk = staff(demo, "clerk", "court_clerk", "court")
        await court_review.review(db, clerk, filing, "supplement", note="请补充授权委托书")
        case_id = filing.case_id
    await login(client, "mediator")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "请补充授权委托书" in page and 'id="resubmit-filing"' in page
    empty = await post_form(client, f"/cases/{case_id}/filing/resubmit", {"note": ""})
    assert empty.status == 422 and 'data-failed="resubmit"' in await empty.text()
    sent = await post_form(
        client, f"/cases/{case_id}/filing/resubmit", {"note": "已补充"}, allow_redirects=False
    )
    assert sent.status == 303
    assert (await filing_row(app, filing_id)).status == "filed"
    async with app[sessionmaker_key]() as db:
        count = await db.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "court_resubmitted")
        )
    assert count == 1


async def test_the_inbox_pages_refuse_a_wrong_page_number(app, client, demo) -> None:
    headers = await bearer(app, demo["user:clerk"])
    for page in ("0", "x", "10001", "-1"):
        response = await client.get(f"/api/v1/court/inbox?page={page}", headers=headers)
        assert response.status == 422, page
    empty = await client.get("/api/v1/court/inbox?page=2", headers=headers)
    assert empty.status == 200 and await empty.json() == {"filings": [], "next_page": None}
