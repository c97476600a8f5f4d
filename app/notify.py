"""Notifications (SMS, email) behind one interface. The default backend keeps them in the
database, where the admin outbox page shows them, so a fresh install shows every message.

Delivery is at least once (a job may run again after its worker died), so every message carries
an idempotency key and a backend records or sends a key once: a retry is never a visible
duplicate. A real gateway gets the same key (most accept a client message id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_if_missing, transaction, utcnow
from app.i18n import translate
from app.jobs import effect_key, enqueue, register
from app.models import Case, Message
from app.services import parties_of
from app.settings import Settings, settings_key
from app.tokens import redact_party_links

SMS_LOCALE = "zh_CN"  # what people's phones read, whatever the sender's interface language


@dataclass(frozen=True)
class Sms:
    key: str  # idempotency key: a second delivery with a key already seen sends nothing
    phone: str
    body: str
    case_id: int | None


class SmsBackend(Protocol):
    async def deliver(self, sms: Sms) -> None:
        """Hands `sms` to the gateway once per key; raises if the gateway refused it."""


sms_backend_key = web.AppKey("sms_backend", SmsBackend)


def outbox_keeps_links(settings: Settings) -> bool:
    """Whether stored SMS keep their party links readable: the demo only, when asked for."""
    return settings.mode == "development" and settings.outbox_shows_links


class DatabaseSmsBackend:
    """The default gateway: each SMS becomes a `messages` row for the admin outbox page. Once
    handed over a link is no longer needed, so the stored body has its links redacted."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def deliver(self, sms: Sms) -> None:
        settings = self._app[settings_key]
        body = sms.body if outbox_keeps_links(settings) else redact_party_links(sms.body)
        async with transaction(self._app) as db:
            # The unique key makes a retried delivery, even a concurrent one, a no-op.
            await insert_if_missing(
                db,
                Message,
                channel="sms",
                recipient=sms.phone,
                body=body,
                case_id=sms.case_id,
                key=sms.key,
                created_at=utcnow(),
            )


async def send_sms(db: AsyncSession, phone: str, body: str, case_id: int | None) -> None:
    """Queues an SMS in the caller's transaction; it goes out after commit."""
    key = effect_key("sms", phone, body, case_id)
    await enqueue(db, "sms", {"key": key, "phone": phone, "body": body, "case_id": case_id})


async def notify_parties(db: AsyncSession, case: Case, message: str, **params: object) -> None:
    """Queues one SMS per party of the case; `{number}` in the message is the case number."""
    body = translate(message, SMS_LOCALE, number=case.number or case.id, **params)
    for party in await parties_of(db, case.id):
        await send_sms(db, party.phone, body, case.id)


async def _deliver_sms(app: web.Application, payload: dict[str, Any]) -> None:
    phone, body, case_id = payload["phone"], payload["body"], payload.get("case_id")
    # Jobs queued before keys existed get one derived from the job, stable across retries.
    key = payload.get("key") or effect_key("sms", phone, body, case_id)
    await app[sms_backend_key].deliver(Sms(key, phone, body, case_id))


def setup(app: web.Application) -> None:
    app[sms_backend_key] = DatabaseSmsBackend(app)
    register(app, "sms", _deliver_sms)
