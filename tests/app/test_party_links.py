"""A capability link is a password: staff see SMS only of their own organisations' cases, pages
that show links are not cached, and reissuing a link ends every session opened with the old one."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select

from app.auth import hash_password
from app.db import sessionmaker_key, transaction
from app.demo import DEMO_PASSWORD
from app.jobs import run_pending
from app.models import Message, Organization, StaffUser, WebSession
from tests.people import csrf, login, open_party_session, post_form


async def unrelated_coordinator(app) -> None:
    """A coordinator of another district's centre, with nothing to do with the demo case."""
    async with transaction(app) as db:
        org = Organization(name="相城区矛盾纠纷调解中心", short_name="相", tier="district")
        db.add(org)
        await db.flush()
        db.add(
            StaffUser(
                org_id=org.id,
                username="outsider",
                display_name="外区协调员",
                role="coordinator",
                password_hash=hash_password(DEMO_PASSWORD),
            )
        )


async def reissue(client, case_id: int):
    return await post_form(client, f"/cases/{case_id}/invitations", {}, allow_redirects=False)


async def test_outbox_shows_only_the_viewers_organisations(app, client, new_client, demo) -> None:
    await unrelated_coordinator(app)
    await login(client, "coordinator")
    response = await reissue(client, demo["case"])
    assert response.status == 200
    assert response.headers["Cache-Control"] in ("no-store", "private, no-store")
    tokens = set(re.findall(r"/p/([A-Za-z0-9_-]{40,})", await response.text()))
    assert len(tokens) == 2  # shown once, to the coordinator who asked for them
    await run_pending(app)
    async with app[sessionmaker_key]() as db:
        sent = list(await db.scalars(select(Message)))
    assert len(sent) == 2 and all(m.case_id == demo["case"] for m in sent)

    own = await client.get("/admin/outbox")
    assert own.status == 200 and "private, no-store" in own.headers["Cache-Control"]
    own_text = await own.text()
    assert "139****5678" in own_text  # the coordinator's own case's SMS are listed
    assert own_text.count("/p/••••") == 2  # ... with their links redacted
    assert not any(token in own_text for token in tokens)

    outsider = await new_client()
    await login(outsider, "outsider")
    theirs = await outsider.get("/admin/outbox")
    assert theirs.status == 200
    text = await theirs.text()
    assert "/p/" not in text
    for message in sent:
        assert message.body not in text
    assert "王秀兰" not in text and "139****5678" not in text


async def test_reissuing_ends_sessions_opened_with_the_old_link(
    app, client, new_client, demo
) -> None:
    party = await new_client()
    await open_party_session(party, app, demo["case"])
    assert (await party.get(f"/cases/{demo['case']}")).status == 200
    staying = await new_client()
    await open_party_session(staying, app, demo["case"], "respondent")

    await login(client, "coordinator")
    async with app[sessionmaker_key]() as db:
        applicant_id = await db.scalar(
            select(WebSession.party_id).where(WebSession.kind == "party").order_by(WebSession.id)
        )
    response = await post_form(
        client,
        f"/cases/{demo['case']}/invitations",
        {"party_id": str(applicant_id)},
        allow_redirects=False,
    )
    assert response.status == 200

    page = await party.get(f"/cases/{demo['case']}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login")
    token = await csrf(party, "/login")
    signing = await party.post(
        "/agreements/1/signatures",
        json={"version_hash": "0" * 64, "image": "x"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert signing.status in (401, 403)
    # Only the reissued party's sessions end; the other party is untouched.
    assert (await staying.get(f"/cases/{demo['case']}")).status == 200
    async with app[sessionmaker_key]() as db:
        sessions = list(
            await db.scalars(
                select(WebSession).where(WebSession.kind == "party").order_by(WebSession.id)
            )
        )
    assert [s.revoked_at is not None for s in sessions] == [True, False]
    assert all(s.link_id is not None for s in sessions)


async def test_a_new_appointment_keeps_the_parties_links_and_sessions(
    app, client, new_client, demo
) -> None:
    """Only 「发送新链接」 revokes: an invitation to another appointment adds a link."""
    from booking.invitations import invite_to_appointment

    party = await new_client()
    await open_party_session(party, app, demo["case"])
    async with transaction(app) as db:
        from app.models import Case
        from app.services import parties_of
        from app.settings import settings_key
        from tests.booking.setup_data import tomorrow_at

        case = await db.get(Case, demo["case"])
        assert case is not None
        await invite_to_appointment(
            db, app[settings_key], case, await parties_of(db, case.id), tomorrow_at(9), "陈调解"
        )
    assert (await party.get(f"/cases/{demo['case']}")).status == 200


async def test_the_demo_outbox_may_show_links_but_only_when_asked(aiohttp_client, settings) -> None:
    from app.factory import create_app
    from tests.people import seed_ids

    shows = await aiohttp_client(create_app(replace(settings, outbox_shows_links=True)))
    ids = await seed_ids(shows.server.app)
    await login(shows, "coordinator")
    response = await reissue(shows, ids["case"])
    tokens = set(re.findall(r"/p/([A-Za-z0-9_-]{40,})", await response.text()))
    await run_pending(shows.server.app)
    text = await (await shows.get("/admin/outbox")).text()
    assert len(tokens) == 2 and all(token in text for token in tokens)
