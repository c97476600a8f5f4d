"""Notifications (SMS, email) behind one interface. The default backend keeps them in the
database, where the admin outbox page shows them, so a fresh install shows every message.

Delivery is at least once (a job may run again after its worker died), so every message carries
an idempotency key and a backend records or sends a key once: a retry is never a visible
duplicate. A real gateway gets the same key (most accept a client message id)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_if_missing, sessionmaker_key, transaction, utcnow
from app.i18n import translate
from app.jobs import effect_key, enqueue, register
from app.models import Case, Message, Organization
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
    await app[sms_backend_key].deliver(Sms(key, phone, await _signed(app, body, case_id), case_id))


async def _signed(app: web.Application, body: str, case_id: int | None) -> str:
    """The SMS with its sender's signature in front, as Chinese carriers require: 【the case's
    organisation】, or the platform's for a text about no case (an application's code)."""
    if body.startswith("【"):
        return body
    name = None
    if case_id is not None:
        async with app[sessionmaker_key]() as db:
            name = await db.scalar(
                select(Organization.name)
                .join(Case, Case.org_id == Organization.id)
                .where(Case.id == case_id)
            )
    return f"【{name or app[settings_key].sms_signature}】{body}"


def setup(app: web.Application) -> None:
    app[sms_backend_key] = DatabaseSmsBackend(app)
    register(app, "sms", _deliver_sms)
    setup_email(app)


# --- email (issue 7): SMTP through aiosmtplib when MEDIATION_SMTP_HOST is set --------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST; charset=utf-8"
    content: str


@dataclass(frozen=True)
class Email:
    key: str  # idempotency key, also the Message-ID's local part
    to: str
    subject: str
    body: str
    case_id: int | None
    attachments: tuple[Attachment, ...] = ()


class EmailBackend(Protocol):
    async def deliver(self, email: Email) -> None:
        """Hands `email` over once per key; raises if the server refused it."""


email_backend_key = web.AppKey("email_backend", EmailBackend)


async def _record_email(app: web.Application, email: Email, db: AsyncSession) -> None:
    names = ", ".join(a.filename for a in email.attachments)
    await insert_if_missing(
        db,
        Message,
        channel="email",
        recipient=email.to[:128],
        body=redact_party_links(f"{email.subject}\n\n{email.body}\n\n[{names}]"),
        case_id=email.case_id,
        key=email.key,
        created_at=utcnow(),
    )


class DatabaseEmailBackend:
    """Without SMTP settings: each email becomes a `messages` row on the outbox page."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def deliver(self, email: Email) -> None:
        async with transaction(self._app) as db:
            await _record_email(self._app, email, db)


def mime_message(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, email.to, email.subject
    message["Message-ID"] = f"<{email.key}@{sender.rpartition('@')[2] or 'mediation'}>"
    message.set_content(email.body)
    for attachment in email.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        extra = dict(param.split("=", 1) for param in params if "=" in param)
        extra.pop("charset", None)
        message.add_attachment(
            attachment.content.encode(),
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=extra,
        )
    return message


class SmtpEmailBackend:
    """SMTP via aiosmtplib. The outbox row is written in the same transaction as the send: a
    key already recorded is not sent again; a send that fails rolls the row back (retried)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def deliver(self, email: Email) -> None:
        settings = self._app[settings_key]
        async with transaction(self._app) as db:
            if await db.scalar(select(Message.id).where(Message.key == email.key)) is not None:
                return
            await _record_email(self._app, email, db)
            await aiosmtplib.send(
                mime_message(email, settings.smtp_from),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                timeout=30,
            )


async def send_email(
    db: AsyncSession,
    to: str,
    subject: str,
    body: str,
    case_id: int | None,
    attachments: tuple[Attachment, ...] = (),
) -> None:
    """Queues an email in the caller's transaction; it goes out after commit."""
    key = effect_key("email", to, subject, body, case_id)
    files = [vars(a) for a in attachments]
    payload = {"key": key, "to": to, "subject": subject, "body": body, "case_id": case_id}
    await enqueue(db, "email", {**payload, "attachments": files})


async def _deliver_email(app: web.Application, payload: dict[str, Any]) -> None:
    files = tuple(Attachment(**a) for a in payload.get("attachments", ()))
    email = Email(
        payload["key"],
        payload["to"],
        payload["subject"],
        payload["body"],
        payload["case_id"],
        files,
    )
    await app[email_backend_key].deliver(email)


def setup_email(app: web.Application) -> None:
    settings = app[settings_key]
    smtp = settings.smtp_host is not None
    app[email_backend_key] = SmtpEmailBackend(app) if smtp else DatabaseEmailBackend(app)
    register(app, "email", _deliver_email)
