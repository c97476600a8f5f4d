"""Idempotency keys for POSTs that create things: a retry with the same key gets the first answer.

The record is written in the same transaction as the effect, so both exist or neither does. Only
successful answers are kept: a failed attempt changed nothing, so running it again is safe. The
unique (principal, key) index settles two concurrent first attempts: the loser fails on it (or on
the effect's own constraint) and then answers with the winner's stored response.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import sessionmaker_key, table_of, transaction
from app.errors import DomainError, UserError
from app.i18n import N_
from app.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 128

Action = Callable[[AsyncSession], Awaitable[tuple[int, dict[str, Any]]]]


class IdempotencyKeyReused(UserError):
    status = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def key_from(request: web.Request) -> str | None:
    """The request's Idempotency-Key, or None when it sent none."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise UserError("The Idempotency-Key header must be 1 to 128 printable ASCII characters.")
    return key


def fingerprint(method: str, path: str, payload: Any) -> str:
    """A stable hash of what the request asks for (same meaning, same hash)."""
    canonical = json.dumps(
        [method.upper(), path, payload],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_RECORD = select(IdempotencyRecord).where(
    IdempotencyRecord.principal == bindparam("principal"),
    IdempotencyRecord.key == bindparam("key"),
)


_SAVE = insert(table_of(IdempotencyRecord))


async def _lookup(
    db: AsyncSession, principal: str, key: str, request_hash: str
) -> StoredResponse | None:
    record = await db.scalar(_RECORD, {"principal": principal, "key": key})
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            N_(
                "This Idempotency-Key was already used for a different request. "
                "Use a new key for a new request."
            )
        )
    return StoredResponse(record.status, record.body, replayed=True)


async def run(
    app: web.Application,
    principal: str,
    key: str | None,
    request_hash: str,
    action: Action,
    *,
    look_first: bool = True,
) -> StoredResponse:
    """Runs `action` in one transaction, or answers with the response stored under `key`.

    `look_first=False` is for an action whose every effect is in its transaction: the key is
    not looked up before it runs. A retry then runs it again, and the record's unique key (or
    the effect's own) rolls that back, after which the stored answer is the answer: a first
    attempt saves a statement and a pool checkout, a retry costs the action's work."""
    if key is None:
        async with transaction(app) as db:
            status, body = await action(db)
        return StoredResponse(status, body)
    if look_first:
        async with app[sessionmaker_key]() as db:
            stored = await _lookup(db, principal, key, request_hash)
        if stored is not None:
            return stored
    try:
        async with transaction(app) as db:
            status, body = await action(db)
            record = {"principal": principal, "key": key, "request_hash": request_hash}
            await db.execute(_SAVE, {**record, "status": status, "body": body})
    except (IntegrityError, DomainError):
        # A concurrent attempt with the same key may have committed first (we then failed on its
        # record or on the effect's own unique key): its answer is the answer.
        async with app[sessionmaker_key]() as db:
            stored = await _lookup(db, principal, key, request_hash)
        if stored is None:
            raise
        return stored
    return StoredResponse(status, body)


def json_response(stored: StoredResponse) -> web.Response:
    response = web.json_response(stored.body, status=stored.status)
    if stored.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
