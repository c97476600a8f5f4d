"""Notifications (SMS, email) behind one interface. The default backend keeps them in the
database, where the admin outbox page shows them, so a fresh install shows every message."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import transaction
from app.i18n import translate
from app.jobs import enqueue, register
from app.models import Case, Message
from app.services import parties_of

SMS_LOCALE = "zh_CN"  # what people's phones read, whatever the sender's interface language


async def send_sms(db: AsyncSession, phone: str, body: str, case_id: int | None) -> None:
    """Queues an SMS in the caller's transaction; it goes out after commit."""
    await enqueue(db, "sms", {"phone": phone, "body": body, "case_id": case_id})


async def notify_parties(db: AsyncSession, case: Case, message: str, **params: object) -> None:
    """Queues one SMS per party of the case; `{number}` in the message is the case number."""
    body = translate(message, SMS_LOCALE, number=case.number or case.id, **params)
    for party in await parties_of(db, case.id):
        await send_sms(db, party.phone, body, case.id)


async def _deliver_sms(app: web.Application, payload: dict[str, Any]) -> None:
    async with transaction(app) as db:
        db.add(
            Message(
                channel="sms",
                recipient=payload["phone"],
                body=payload["body"],
                case_id=payload.get("case_id"),
            )
        )


def setup(app: web.Application) -> None:
    register(app, "sms", _deliver_sms)
