"""Acting as the system's people in tests: demo staff, logging in, CSRF tokens, party links."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from app.auth import issue_party_link
from app.db import sessionmaker_key, transaction
from app.demo import DEMO_PASSWORD, seed_demo
from app.models import Case, Organization, Party, StaffUser

Client = TestClient[web.Request, web.Application]
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def seed_ids(app: web.Application) -> dict[str, int]:
    """Seeds the demo data; returns ids: org:<tier|court>, user:<username>, case."""
    await seed_demo(app)
    ids: dict[str, int] = {}
    async with app[sessionmaker_key]() as db:
        for org in await db.scalars(select(Organization)):
            ids[f"org:{org.tier if org.kind == 'mediation' else 'court'}"] = org.id
        for user in await db.scalars(select(StaffUser)):
            ids[f"user:{user.username}"] = user.id
        ids["case"] = (await db.scalars(select(Case.id).order_by(Case.id))).first() or 0
    return ids


async def csrf(client: Client, path: str = "/") -> str:
    """The CSRF token the server expects from this browser, read from a page."""
    response = await client.get(path)
    match = _META.search(await response.text())
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


async def login(client: Client, username: str, password: str = DEMO_PASSWORD) -> None:
    token = await csrf(client, "/login")
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf": token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


async def post_form(client: Client, path: str, data: dict[str, Any], **kw: Any) -> Any:
    token = await csrf(client)
    return await client.post(path, data={**data, "_csrf": token}, **kw)


async def party_link(app: web.Application, case_id: int, role: str = "applicant") -> str:
    """A fresh capability-link path (/p/<token>) for the case's party with this role."""
    async with transaction(app) as db:
        party = await db.scalar(select(Party).where(Party.case_id == case_id, Party.role == role))
        assert party is not None
        token = await issue_party_link(db, party.id, days=1)
    return f"/p/{token}"


async def open_party_session(
    client: Client, app: web.Application, case_id: int, role: str = "applicant"
) -> None:
    response = await client.get(await party_link(app, case_id, role), allow_redirects=False)
    assert response.status == 303, await response.text()
