"""SMS codes for intake: proving the applicant holds the phone (purpose "apply") and unlocking a
progress lookup (purpose "lookup"). Code requests are throttled per client on top of app/otp.py's
per-subject resend interval and per-code attempt limit."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, transaction
from app.i18n import N_
from app.models import Job
from app.otp import issue_code, verify_code
from app.settings import settings_key
from app.throttle import Limit, client_address, throttle_key

TOO_MANY_CODES = N_(
    "Too many codes were requested from here. Please try again in {minutes} minutes."
)

_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def apply_subject(phone: str) -> str:
    return f"apply:{phone}"


async def count_request(request: web.Request, kind: str) -> None:
    """One code request (or lookup attempt) from this client, or TooManyRequests."""
    settings = request.app[settings_key]
    most = settings.code_requests_per_client
    limit = Limit(f"{kind}:client:{client_address(request)}", most)
    await request.app[throttle_key].attempt(limit, message=TOO_MANY_CODES)


async def send_code(request: web.Request, purpose: str, subject: str, phone: str) -> None:
    """Texts a new code for (purpose, subject) to `phone`, counted against the client."""
    await count_request(request, "code")
    async with transaction(request.app) as db:
        await issue_code(db, request.app[settings_key], purpose, subject, phone)


async def verify(
    request: web.Request, db: AsyncSession, purpose: str, subject: str, code: str
) -> int:
    """Spends one attempt on `code` and marks it used in `db`; raises UserError or Conflict
    (locked) when it is wrong, a wrong guess committed (see `verify_code`); returns the code's
    id (evidence). Call before `db` writes anything."""
    app = request.app
    row = await verify_code(db, app[settings_key], purpose, subject, code)
    return row.id


async def development_code(request: web.Request, phone: str) -> str | None:
    """`make run` has no SMS gateway, and a code is tied to no case, so no outbox page lists it:
    in development with readable outbox links (never in production), the page shows it."""
    settings = request.app[settings_key]
    if settings.mode != "development" or not settings.outbox_shows_links:
        return None
    async with request.app[sessionmaker_key]() as db:
        jobs = await db.scalars(
            select(Job.payload).where(Job.kind == "sms").order_by(Job.id.desc()).limit(20)
        )
        bodies = [p["body"] for p in jobs if p.get("phone") == phone and "http" not in p["body"]]
    found = _CODE.search(bodies[0]) if bodies else None
    return found.group(1) if found else None
