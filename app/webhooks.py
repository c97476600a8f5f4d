"""Push delivery of court events to a court's webhook, through the job table.

The event is enqueued in the transaction that changed the filing, so it is sent once the change
is committed and never lost. Each attempt POSTs the same bytes with
`X-Mediation-Signature: sha256=<HMAC-SHA256 of the body with the court's secret>`,
`X-Mediation-Timestamp` (the attempt's Unix time) and `Idempotency-Key`. 2xx is delivered; a
4xx other than 408/429 will not get better and dead-letters the job at once; anything else
(5xx, 408, 429, timeouts, refused connections) is retried with capped, fully jittered backoff
until the attempts run out, then dead-lettered for an admin to re-queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import court_systems, jobs
from app.db import sessionmaker_key
from app.models import CourtWebhook
from app.settings import settings_key

KIND = "court_webhook"
SIGNATURE_HEADER = "X-Mediation-Signature"
TIMESTAMP_HEADER = "X-Mediation-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# 1 s · 2^n, at most an hour apart, 12 attempts: about four hours before a dead letter.
RETRY = jobs.RetryPolicy(max_attempts=12, base_seconds=1.0, cap_seconds=3600.0, jitter=True)
RETRYABLE_4XX = (408, 429)


class DeliveryFailed(Exception):
    """The receiver answered with something other than success; worth trying again."""


def body_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def enqueue_event(
    db: AsyncSession, court_id: int, owner_id: int, idempotency_key: str, body: dict[str, Any]
) -> bool:
    """Queues `body` for the court's webhook in the caller's transaction; False (nothing
    queued) when the court has no webhook. `owner_id` is the organisation the event comes from:
    its admins (and those above) see the delivery if it fails for good."""
    if await db.get(CourtWebhook, court_id) is None:
        return False
    payload = {"org_id": court_id, "key": idempotency_key, "body": body}
    await jobs.enqueue(db, KIND, payload, org_id=owner_id)
    return True


async def deliver(app: web.Application, payload: dict[str, Any]) -> None:
    """The job handler: one POST attempt."""
    settings = app[settings_key]
    async with app[sessionmaker_key]() as db:
        target = await court_systems.endpoint(db, payload["org_id"], settings.id_hash_key)
    if target is None:
        raise jobs.PermanentFailure("the court has no usable webhook (removed, or key rotated)")
    raw = body_bytes(payload["body"])
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(target.secret, raw),
        TIMESTAMP_HEADER: str(int(time.time())),
        IDEMPOTENCY_HEADER: payload["key"],
    }
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(target.url, data=raw, headers=headers, allow_redirects=False) as response,
    ):
        status = response.status
    if 200 <= status < 300:
        return
    # Only the status is kept: the receiver's answer might echo what it was sent.
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        raise jobs.PermanentFailure(f"the court system refused the delivery: HTTP {status}")
    raise DeliveryFailed(f"HTTP {status}")


def _keep(payload: dict[str, Any]) -> dict[str, Any]:
    return payload  # no secrets in it: a dead letter must keep its body to be re-queued


def setup(app: web.Application) -> None:
    jobs.register(app, KIND, deliver, redact=_keep, retry=RETRY)
