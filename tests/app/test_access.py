"""Authentication, CSRF, capability links and case isolation at the HTTP boundary."""

from sqlalchemy import func, select

from app.db import transaction
from app.models import Case, Party, WebSession
from tests.builders import applications
from tests.people import csrf, login, open_party_session, party_link


async def _second_case(app, org_id: int) -> int:
    (case_id,) = await applications(app, org_id)
    return case_id


async def test_party_link_opens_own_case_only(app, client, demo) -> None:
    other = await _second_case(app, demo["org:town"])
    response = await client.get(await party_link(app, demo["case"]), allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/cases/{demo['case']}"  # token-free
    own = await client.get(f"/cases/{demo['case']}")
    assert own.status == 200 and "王秀兰" in await own.text()
    foreign = await client.get(f"/cases/{other}")
    assert foreign.status == 404
    assert "赵六" not in await foreign.text()


async def test_unknown_and_expired_links_get_a_clear_page(app, client, demo) -> None:
    response = await client.get("/p/not-a-real-token")
    assert response.status == 410
    assert "该链接无效" in await response.text()
    path = await party_link(app, demo["case"])
    async with transaction(app) as db:
        from datetime import timedelta

        from app.db import utcnow
        from app.models import PartyLink

        for link in await db.scalars(select(PartyLink)):
            link.expires_at = utcnow() - timedelta(seconds=1)
    response = await client.get(path)
    assert response.status == 410
    assert "该链接已过期" in await response.text()


async def test_party_session_cannot_see_staff_pages(app, client, demo) -> None:
    await open_party_session(client, app, demo["case"])
    response = await client.get("/admin/outbox")
    assert response.status == 403


async def test_login_page_then_logout_revokes_the_server_session(app, client, demo) -> None:
    await login(client, "coordinator")
    assert (await client.get(f"/cases/{demo['case']}")).status == 200
    token = await csrf(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["msid"].value
    response = await client.post("/logout", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 303
    async with app[__import__("app.db", fromlist=["x"]).sessionmaker_key]() as db:
        revoked = await db.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.revoked_at.is_not(None))
        )
    assert revoked == 1
    client.session.cookie_jar.update_cookies({"msid": cookie})  # replaying the old cookie
    response = await client.get(f"/cases/{demo['case']}", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_wrong_password_is_refused(client, demo) -> None:
    token = await csrf(client, "/login")
    response = await client.post(
        "/login", data={"username": "coordinator", "password": "wrong", "_csrf": token}
    )
    assert response.status == 401
    assert "用户名或密码错误" in await response.text()


async def test_post_without_csrf_token_or_from_another_site_is_refused(client, demo) -> None:
    token = await csrf(client, "/login")
    form = {"username": "coordinator", "password": "demo-2026-pass"}
    assert (await client.post("/login", data=form)).status == 403
    cross = await client.post(
        "/login", data={**form, "_csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status == 403
    assert "跨站" in await cross.text()
    ok = await client.post("/login", data={**form, "_csrf": token}, allow_redirects=False)
    assert ok.status == 303


async def test_staff_of_another_organisation_cannot_see_the_case(app, client, demo) -> None:
    await login(client, "mediator2")  # village mediator, not assigned
    assert (await client.get(f"/cases/{demo['case']}")).status == 404
    async with app[__import__("app.db", fromlist=["x"]).sessionmaker_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Case)) == 1
        assert await db.scalar(select(func.count()).select_from(Party)) == 2


async def test_an_api_token_stops_working_when_revoked_or_its_owner_leaves(app, client, demo):
    from sqlalchemy import update

    from app.auth import create_api_token
    from app.db import utcnow
    from app.models import ApiToken, StaffUser

    async with transaction(app) as db:
        kept = await create_api_token(db, demo["user:coordinator"], "kept")
        revoked = await create_api_token(db, demo["user:coordinator"], "revoked")
        leaver = await create_api_token(db, demo["user:mediator"], "leaver")
        await db.execute(
            update(ApiToken).where(ApiToken.name == "revoked").values(revoked_at=utcnow())
        )
        await db.execute(
            update(StaffUser).where(StaffUser.id == demo["user:mediator"]).values(active=False)
        )
    for token, status in ((kept, 200), (revoked, 401), (leaver, 401)):
        response = await client.get(
            "/api/v1/mediators", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == status, token


async def test_an_office_sees_the_cases_of_its_subtree_only(app, client, demo):
    from app.auth import create_api_token

    (village_case,) = await applications(app, demo["org:village"])
    (district_case,) = await applications(app, demo["org:district"])
    async with transaction(app) as db:
        town = await create_api_token(db, demo["user:coordinator"], "town")
        district = await create_api_token(db, demo["user:admin"], "district")
    for token, case_id, status in (
        (town, demo["case"], 200),
        (town, village_case, 200),
        (town, district_case, 404),
        (town, 999999, 404),
        (district, village_case, 200),
    ):
        response = await client.get(
            f"/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == status, (token == town, case_id)
