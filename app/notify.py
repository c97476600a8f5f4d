"""Notifications (SMS, email) behind one interface. The default backend keeps them in the
database, where the admin outbox page shows them, so a fresh install shows every message."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import transaction
from app.jobs import enqueue, register
from app.models import Message


async def send_sms(db: AsyncSession, phone: str, body: str, case_id: int | None) -> None:
    """Queues an SMS in the caller's transaction; it goes out after commit."""
    await enqueue(db, "sms", {"phone": phone, "body": body, "case_id": case_id})


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
