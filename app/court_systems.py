"""Court systems as API clients: a court's system tokens (issued by an admin, shown once, stored
hashed, revocable) and its webhook endpoint (URL and HMAC secret, the secret shown once and kept
encrypted with a key derived from `MEDIATION_ID_HASH_KEY`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.i18n import N_
from app.models import CourtToken, CourtWebhook, Organization
from app.policy import subtree_query
from app.tokens import new_token, token_hash

NAME_MAX = 20
URL_MAX = 500
NO_COURT = N_("This court does not exist or is outside your organisation.")
NO_TOKEN = N_("This token does not exist or is outside your organisation.")
# A token's last use is written at most this often: a busy court system does not turn every
# read into a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)

# The routes (canonical paths) a court system's token may reach; the court API adds its own.
routes_key = web.AppKey("court_system_routes", set[str])


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


async def courts_in_scope(db: AsyncSession, root: int) -> list[Organization]:
    """The courts an admin of `root` manages the systems of. Courts stand outside the
    mediation trees (no admin belongs to a court), so an admin of a top-level organisation
    manages every court, and any other admin the courts of their subtree, if any."""
    top = await db.scalar(select(Organization.parent_id.is_(None)).where(Organization.id == root))
    query = select(Organization).where(Organization.kind == "court")
    if not top:
        query = query.where(Organization.id.in_(subtree_query(root)))
    return list(await db.scalars(query.order_by(Organization.id)))


async def court_in_scope(db: AsyncSession, root: int, org_id: int | None) -> Organization:
    """A court the admin of `root` manages, or NotFound."""
    for court in await courts_in_scope(db, root):
        if court.id == org_id:
            return court
    raise NotFound(NO_COURT)


def check_name(data: Mapping[str, object]) -> str:
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed({"name": N_("Please name the court system (e.g. 审判系统).")})
    if len(name) > NAME_MAX or not name.isprintable():
        raise ValidationFailed({"name": N_("Up to 20 printable characters, please.")})
    return name


async def issue_token(
    db: AsyncSession, principal: Principal, root: int, org_id: int | None, name: str
) -> tuple[CourtToken, str]:
    """A new system token for a court; the token itself is returned once, only its hash kept."""
    court = await court_in_scope(db, root, org_id)
    token = new_token()
    row = CourtToken(
        org_id=court.id, token_hash=token_hash(token), name=name, created_by=principal.key
    )
    db.add(row)
    await db.flush()
    return row, token


async def tokens_of(db: AsyncSession, courts: list[Organization]) -> list[CourtToken]:
    return list(
        await db.scalars(
            select(CourtToken)
            .where(CourtToken.org_id.in_([court.id for court in courts]))
            .order_by(CourtToken.org_id, CourtToken.id)
        )
    )


async def revoke_token(db: AsyncSession, root: int, token_id: int) -> CourtToken:
    """Revokes once: a second revocation is a conflict, not a new revocation time."""
    row = await db.get(CourtToken, token_id)
    if row is None or row.org_id not in {c.id for c in await courts_in_scope(db, root)}:
        raise NotFound(NO_TOKEN)
    changed = await db.execute(
        update(CourtToken)
        .where(CourtToken.id == token_id, CourtToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(N_("This token was already revoked."))
    await db.refresh(row)
    return row


async def principal_from_court_token(db: AsyncSession, token: str) -> Principal | None:
    """The court a live system token acts as; records its last use (at most once a minute)."""
    row = await db.scalar(select(CourtToken).where(CourtToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_GRANULARITY:
        await db.execute(
            update(CourtToken)
            .where(
                CourtToken.id == row.id,
                or_(
                    CourtToken.last_used_at.is_(None),
                    CourtToken.last_used_at < now - LAST_USED_GRANULARITY,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        await db.commit()
    return Principal(
        kind="court_system",
        role="court_system",
        org_id=row.org_id,
        name=row.name,
        system_id=row.id,
        via_api=True,
    )


# --- webhooks ----------------------------------------------------------------------------------


def _cipher(key_material: str) -> AESGCM:
    key = hmac.new(key_material.encode(), b"court-webhook-secret", hashlib.sha256).digest()
    return AESGCM(key)


def seal_secret(key_material: str, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = nonce + _cipher(key_material).encrypt(nonce, secret.encode(), b"webhook")
    return base64.urlsafe_b64encode(sealed).decode()


def open_secret(key_material: str, sealed: str) -> str | None:
    """The secret, or None when it was sealed with another key (the key was rotated)."""
    raw = base64.urlsafe_b64decode(sealed)
    try:
        return _cipher(key_material).decrypt(raw[:12], raw[12:], b"webhook").decode()
    except InvalidTag:
        return None


def check_url(data: Mapping[str, object], *, allow_http: bool) -> str:
    url = data.get("url")
    url = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(url) if url.isprintable() else None
    schemes = ("https", "http") if allow_http else ("https",)
    if (
        not url
        or len(url) > URL_MAX
        or parts is None
        or parts.scheme not in schemes
        or not parts.hostname
        or parts.username
        or parts.password
    ):
        raise ValidationFailed(
            {"url": N_("Please enter the court system's https:// address (up to 500 characters).")}
        )
    return url


async def set_webhook(
    db: AsyncSession,
    principal: Principal,
    root: int,
    org_id: int | None,
    url: str,
    key_material: str,
) -> tuple[CourtWebhook, str]:
    """Sets the court's endpoint with a fresh secret (returned once)."""
    court = await court_in_scope(db, root, org_id)
    secret = new_token()
    hook = await db.get(CourtWebhook, court.id)
    if hook is None:
        hook = CourtWebhook(org_id=court.id)
        db.add(hook)
    hook.url, hook.secret_sealed = url, seal_secret(key_material, secret)
    hook.updated_by, hook.updated_at = principal.key, utcnow()
    await db.flush()
    return hook, secret


async def clear_webhook(db: AsyncSession, root: int, org_id: int | None) -> None:
    court = await court_in_scope(db, root, org_id)
    hook = await db.get(CourtWebhook, court.id)
    if hook is not None:
        await db.delete(hook)


async def webhooks_of(db: AsyncSession, courts: list[Organization]) -> dict[int, CourtWebhook]:
    rows = await db.scalars(
        select(CourtWebhook).where(CourtWebhook.org_id.in_([court.id for court in courts]))
    )
    return {hook.org_id: hook for hook in rows}


async def endpoint(db: AsyncSession, org_id: int, key_material: str) -> Endpoint | None:
    hook = await db.get(CourtWebhook, org_id)
    if hook is None:
        return None
    secret = open_secret(key_material, hook.secret_sealed)
    return None if secret is None else Endpoint(hook.url, secret)
