"""Court system tokens on both databases: issued by an admin and shown once, a token acts as its
court on the court API only (list, fetch, the clerk's and the judge's steps, recorded under the
token's name), sees nothing of another court, reaches no other page or API, and once revoked is
refused with 401."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from sqlalchemy import event, select

from app.auth import create_api_token
from app.db import engine_key, sessionmaker_key, transaction
from app.jobs import run_pending
from app.models import Case, CaseEvent, CourtToken, Organization
from app.tokens import token_hash
from documents import court
from documents.application_pdf import seal_application
from documents.models import Agreement, CourtFiling
from documents.venue import check_venue
from tests.builders import (
    application_signed_by,
    effective,
    filed,
    party_principals,
    prepared,
    staff,
)
from tests.people import login, post_form


async def bearer(app: web.Application, staff_id: int) -> dict[str, str]:
    async with transaction(app) as db:
        return {"Authorization": f"Bearer {await create_api_token(db, staff_id, 'test')}"}


async def other_court_filing(app: web.Application, demo: dict[str, int]) -> tuple[int, int]:
    """A second court, and a filing of the demo mediator's with it."""
    async with transaction(app) as db:
        other = Organization(
            name="相城区人民法院", short_name="相法", tier="district", kind="court"
        )
        db.add(other)
        await db.flush()
        other_id = other.id
    agreement = await effective(app, demo)
    async with transaction(app) as db:
        case = await db.get(Case, agreement.case_id)
        assert case is not None
        venue = await check_venue(db, case.org_id, "domicile", other_id, "被申请人住所地在相城区")
    joint = await prepared(app, demo, agreement, venue)
    await application_signed_by(app, joint, *await party_principals(app, agreement.case_id))
    await seal_application(app, joint.id)
    async with transaction(app) as db:
        case = await db.get(Case, agreement.case_id)
        row = await db.get(Agreement, agreement.id)
        assert case is not None and row is not None
        mediator = staff(demo, "mediator", "mediator", "town")
        filing = await court.do_file(db, mediator, case, row, other_id)
        return other_id, filing.id


async def issue(client, admin: dict[str, str], org_id: int, name: str) -> dict:
    response = await client.post(
        "/api/v1/admin/court-tokens", json={"org_id": org_id, "name": name}, headers=admin
    )
    assert response.status == 201, await response.text()
    assert response.headers["Cache-Control"] == "private, no-store"
    return await response.json()


async def test_a_system_token_acts_as_its_court_and_nothing_else(app, client, demo) -> None:
    mine = await filed(app, demo)
    other_court, theirs = await other_court_filing(app, demo)
    admin = await bearer(app, demo["user:admin"])
    issued = await issue(client, admin, demo["org:court"], "审判系统")
    system = {"Authorization": f"Bearer {issued['token']}"}
    async with app[sessionmaker_key]() as db:
        stored = await db.scalar(select(CourtToken).where(CourtToken.id == issued["id"]))
    assert stored is not None and stored.token_hash == token_hash(issued["token"])
    assert issued["token"] not in str(stored.__dict__)  # only its hash is kept

    inbox = await client.get("/api/v1/court/inbox", headers=system)
    assert inbox.status == 200
    assert [f["id"] for f in (await inbox.json())["filings"]] == [mine]
    assert (await client.get(f"/api/v1/court/filings/{theirs}", headers=system)).status == 404
    one = await client.get(f"/api/v1/court/filings/{mine}", headers=system)
    assert one.status == 200 and (await one.json())["status"] == "filed"
    await run_pending(app)  # the packets are assembled
    packet = await client.get(f"/api/v1/court/filings/{mine}/packet", headers=system)
    assert packet.status == 200 and packet.content_type == "application/zip"
    theirs_packet = await client.get(f"/api/v1/court/filings/{theirs}/packet", headers=system)
    assert theirs_packet.status == 404
    refused = await client.post(
        f"/api/v1/court/filings/{theirs}/review",
        json={"outcome": "accepted", "court_case_number": "(2026)相1号"},
        headers=system,
    )
    assert refused.status == 404

    # The clerk's step and the judge's, both under the token's name.
    accept = await client.post(
        f"/api/v1/court/filings/{mine}/review",
        json={"outcome": "accepted", "court_case_number": "(2026)苏0509民特7号"},
        headers=system,
    )
    assert accept.status == 200, await accept.text()
    decide = await client.post(
        f"/api/v1/court/filings/{mine}/decision", json={"decision": "confirmed"}, headers=system
    )
    assert decide.status == 200, await decide.text()
    actor = f"sys:{issued['id']}:审判系统"
    async with app[sessionmaker_key]() as db:
        filing = await db.get(CourtFiling, mine)
        assert filing is not None
        assert (filing.reviewed_by, filing.decided_by) == (actor, actor)
        actors = set(
            await db.scalars(
                select(CaseEvent.actor).where(
                    CaseEvent.case_id == filing.case_id,
                    CaseEvent.kind.in_(("court_accepted", "confirmed")),
                )
            )
        )
    assert actors == {actor}

    # The agreement the filing links to, not another court's.
    pdf = await client.get((await one.json())["pdf_url"], headers=system)
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    other = await client.get(
        f"/api/v1/court/filings/{theirs}", headers=await bearer(app, demo["user:clerk"])
    )
    assert other.status == 404

    # Nothing else: pages, other APIs, the admin's.
    for method, path in (
        ("GET", "/admin"),
        ("GET", "/court/inbox"),
        ("GET", "/dashboard"),
        ("GET", f"/cases/{demo['case']}"),
        ("GET", "/api/v1/mediators"),
        ("GET", "/api/v1/admin/court-tokens"),
        ("POST", "/api/v1/cases"),
        ("GET", "/no/such/page"),
    ):
        asking = {**system, "Accept": "application/json"}
        response = await client.request(method, path, headers=asking, json={})
        assert response.status == 403, (method, path, response.status)
        body = await response.json()
        assert set(body["messages"]) == {"zh_CN", "en"}
    assert other_court  # a court of its own, with its filing

    listed = await client.get("/api/v1/admin/court-tokens", headers=admin)
    (row,) = (await listed.json())["tokens"]
    assert row["name"] == "审判系统" and row["last_used_at"] is not None
    assert "token" not in row


async def test_a_revoked_token_is_refused_at_once(app, client, demo) -> None:
    await filed(app, demo)
    admin = await bearer(app, demo["user:admin"])
    issued = await issue(client, admin, demo["org:court"], "收案系统")
    system = {"Authorization": f"Bearer {issued['token']}"}
    assert (await client.get("/api/v1/court/inbox", headers=system)).status == 200
    path = f"/api/v1/admin/court-tokens/{issued['id']}/revoke"
    statuses = sorted(
        r.status
        for r in await asyncio.gather(*(client.post(path, headers=admin) for _ in range(4)))
    )
    assert statuses == [200, 409, 409, 409]  # revoked once
    refused = await client.get("/api/v1/court/inbox", headers=system)
    assert refused.status == 401
    assert set((await refused.json())["messages"]) == {"zh_CN", "en"}


async def test_only_admins_manage_court_systems(app, client, demo) -> None:
    for username in ("coordinator", "clerk", "judge"):
        headers = await bearer(app, demo[f"user:{username}"])
        response = await client.post(
            "/api/v1/admin/court-tokens",
            json={"org_id": demo["org:court"], "name": "x"},
            headers=headers,
        )
        assert response.status == 403
        assert (await client.get("/api/v1/admin/dead-letters", headers=headers)).status == 403
    admin = await bearer(app, demo["user:admin"])
    not_a_court = await client.post(
        "/api/v1/admin/court-tokens",
        json={"org_id": demo["org:town"], "name": "x"},
        headers=admin,
    )
    assert not_a_court.status == 404
    unnamed = await client.post(
        "/api/v1/admin/court-tokens", json={"org_id": demo["org:court"], "name": " "}, headers=admin
    )
    assert unnamed.status == 422 and "name" in (await unnamed.json())["fields"]
    async with app[sessionmaker_key]() as db:
        assert list(await db.scalars(select(CourtToken))) == []  # nothing half-written


async def test_the_admin_page_issues_once_and_revokes(app, client, new_client, demo) -> None:
    await login(client, "admin")
    page = await client.get("/admin/court-systems")
    assert page.status == 200 and page.headers["Cache-Control"] == "private, no-store"
    court_id = str(demo["org:court"])

    tokens = "/admin/court-systems/tokens"
    refused = await post_form(client, tokens, {"org_id": court_id, "name": ""})
    assert refused.status == 422 and 'id="name-error"' in await refused.text()
    issued = await post_form(
        client, "/admin/court-systems/tokens", {"org_id": court_id, "name": "审判系统"}
    )
    html = await issued.text()
    assert issued.status == 200 and issued.headers["Cache-Control"] == "private, no-store"
    match = re.search(r'<code id="shown-value">([^<]+)</code>', html)
    assert match is not None
    system = {"Authorization": f"Bearer {match.group(1)}"}
    assert (await client.get("/api/v1/court/inbox", headers=system)).status == 200
    again = await (await client.get("/admin/court-systems")).text()
    assert match.group(1) not in again and "审判系统" in again  # shown once

    async with app[sessionmaker_key]() as db:
        (row,) = list(await db.scalars(select(CourtToken)))
    for _ in range(2):  # a double click revokes once and lands on the page
        revoked = await post_form(
            client, f"/admin/court-systems/tokens/{row.id}/revoke", {}, allow_redirects=False
        )
        assert revoked.status == 303
    assert (await client.get("/api/v1/court/inbox", headers=system)).status == 401

    bad = await post_form(
        client, "/admin/court-systems/webhooks", {"org_id": court_id, "url": "ftp://court/x"}
    )
    assert bad.status == 422 and 'id="url-error"' in await bad.text()
    hooked = await post_form(
        client,
        "/admin/court-systems/webhooks",
        {"org_id": court_id, "url": "http://127.0.0.1:9/hook"},
    )
    assert hooked.status == 200 and 'id="shown-value"' in await hooked.text()

    coordinator = await new_client()
    await login(coordinator, "coordinator")
    assert (await coordinator.get("/admin/court-systems")).status == 403


async def test_the_system_s_inbox_costs_the_same_statements_for_more_filings(
    app, client, demo
) -> None:
    admin = await bearer(app, demo["user:admin"])
    issued = await issue(client, admin, demo["org:court"], "审判系统")
    system = {"Authorization": f"Bearer {issued['token']}"}
    engine = app[engine_key].sync_engine
    counts = []
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    for _ in range(2):
        await filed(app, demo)
        await client.get("/api/v1/court/inbox", headers=system)  # records the token's use
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            response = await client.get("/api/v1/court/inbox", headers=system)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert response.status == 200
        counts.append(len(seen))
    # The personal token (a miss) and the system token (2); the page, its parties, the service
    # receipts (3). Its last use was written by the request before, within the minute.
    assert counts[0] == counts[1] <= 5, counts
