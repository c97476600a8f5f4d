"""Duty clinic test data: a session of the demo expert, phones with their texted codes."""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key, transaction
from app.models import Job
from app.otp import issue_code
from app.settings import settings_key
from booking.clinic import code_subject
from booking.models import DutySession

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def duty_session(
    app: web.Application, ids: dict[str, int], starts_at: datetime, capacity: int = 6
) -> int:
    async with transaction(app) as db:
        session = DutySession(
            org_id=ids["org:district"],
            staff_id=ids["user:expert"],
            kind="lawyer",
            topic="劳动争议",
            starts_at=starts_at,
            ends_at=starts_at.replace(hour=starts_at.hour + 2),
            place_minutes=20,
            capacity=capacity,
            booked=0,
            created_by="test",
        )
        db.add(session)
        await db.flush()
        return session.id


async def codes_for(app: web.Application, phones: list[str]) -> dict[str, str]:
    """Issues a clinic code to every phone and reads it back from the queued SMS."""
    async with transaction(app) as db:
        for phone in phones:
            await issue_code(db, app[settings_key], "clinic", code_subject(phone), phone)
    async with app[sessionmaker_key]() as db:
        jobs = await db.scalars(select(Job.payload).where(Job.kind == "sms").order_by(Job.id))
        codes = {}
        for payload in jobs:
            found = CODE.search(payload["body"])
            if payload["phone"] in phones and found and "http" not in payload["body"]:
                codes[payload["phone"]] = found.group(1)
    return codes


async def texts_to(app: web.Application, phone: str) -> list[str]:
    async with app[sessionmaker_key]() as db:
        jobs = await db.scalars(select(Job.payload).where(Job.kind == "sms").order_by(Job.id))
        return [p["body"] for p in jobs if p["phone"] == phone]
