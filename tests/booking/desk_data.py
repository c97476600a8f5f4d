"""Test data for the desk: principals of the demo staff, API calls, extra staff, case rows."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from app.auth import Principal, hash_password
from app.db import sessionmaker_key, transaction
from app.models import Alarm, Case, CaseEvent, StaffUser
from booking.models import Dispatch
from tests.booking.setup_data import bearer, tomorrow_at
from tests.builders import applications

DEMO_ROLES = {
    "coordinator": ("coordinator", "town"),
    "mediator": ("mediator", "town"),
    "mediator2": ("mediator", "village"),
    "expert": ("expert", "district"),
    "admin": ("admin", "district"),
}


def who(ids: dict[str, int], username: str) -> Principal:
    role, org = DEMO_ROLES[username]
    return Principal(
        kind="staff",
        staff_id=ids[f"user:{username}"],
        role=role,
        org_id=ids[f"org:{org}"],
        name=username,
    )


async def add_staff(app: web.Application, username: str, role: str, org_id: int) -> int:
    async with transaction(app) as db:
        user = StaffUser(
            org_id=org_id,
            username=username,
            display_name=username,
            role=role,
            phone="13800009999",
            password_hash=hash_password("x" * 12),
        )
        db.add(user)
        await db.flush()
        return user.id


class Api:
    """The JSON API as one staff member (bearer token)."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    @classmethod
    async def of(cls, app: web.Application, client: Any, user_id: int) -> Api:
        return cls(client, await bearer(app, user_id))

    async def post(self, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        kwargs = {} if body is None else {"json": body}
        response = await self.client.post(
            f"/api/v1{path}", headers={**self.headers, **headers}, **kwargs
        )
        return response.status, await response.json()

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        response = await self.client.get(f"/api/v1{path}", headers=self.headers, params=params)
        return response.status, await response.json()


async def registered_case(
    app: web.Application, api: Api, ids: dict[str, int], risk: str = "blue", **extra: str
) -> int:
    (case_id,) = await applications(app, ids["org:town"])
    status, body = await api.post(
        f"/cases/{case_id}/register",
        {"risk": risk, "complexity": "general", "tier": "town", **extra},
    )
    assert status == 200, body
    return case_id


async def case_row(app: web.Application, case_id: int) -> Case:
    async with app[sessionmaker_key]() as db:
        case = await db.get(Case, case_id)
        assert case is not None
        return case


async def events(app: web.Application, case_id: int) -> list[CaseEvent]:
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
        return list(rows)


async def dispatches(app: web.Application, case_id: int) -> list[Dispatch]:
    async with app[sessionmaker_key]() as db:
        rows = await db.scalars(
            select(Dispatch).where(Dispatch.case_id == case_id).order_by(Dispatch.id)
        )
        return list(rows)


async def alarms(app: web.Application, *where: Any) -> list[Alarm]:
    async with app[sessionmaker_key]() as db:
        return list(await db.scalars(select(Alarm).where(*where).order_by(Alarm.id)))


async def booked_tomorrow(coordinator: Api, ids: dict[str, int]) -> dict[str, Any]:
    """The demo case booked with the demo mediator tomorrow at 10:00, through the API."""
    status, booked = await coordinator.post(
        "/appointments",
        {
            "case_id": ids["case"],
            "mediator_id": ids["user:mediator"],
            "starts_at": tomorrow_at(10).isoformat(),
            "minutes": 60,
        },
    )
    assert status == 201, booked
    return dict(booked)
