"""Who is asking: staff sessions, party sessions (from capability links) and API tokens."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.errors import Gone, NotAuthenticated, PermissionDenied
from app.models import ApiToken, Party, PartyLink, StaffUser, WebSession
from app.revocation import Revoked
from app.tokens import new_token, token_hash

SESSION_COOKIE = "msid"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class Principal:
    kind: str  # anonymous | staff | party | court_system
    staff_id: int | None = None
    role: str | None = None
    org_id: int | None = None
    party_id: int | None = None
    case_id: int | None = None
    name: str = ""
    session_id: int | None = None
    csrf_token: str | None = None
    via_api: bool = False
    system_id: int | None = None  # a court system's token (app/court_systems.py)

    @property
    def key(self) -> str:
        if self.kind == "staff":
            return f"staff:{self.staff_id}"
        if self.kind == "court_system":
            # The audit names the system by its token's name (≤ 20 characters: fits an actor).
            return f"sys:{self.system_id}:{self.name}"
        if self.kind == "party":
            return f"party:{self.party_id}"
        return "anonymous"

    def require_staff(self, *roles: str) -> None:
        if self.kind == "anonymous":
            raise NotAuthenticated("Please log in first.")
        if self.kind != "staff" or (roles and self.role not in roles and self.role != "admin"):
            raise PermissionDenied("You are not allowed to do this.")


ANONYMOUS = Principal(kind="anonymous")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate_staff(
    db: AsyncSession, username: str, password: str, executor: Executor
) -> StaffUser | None:
    user = await db.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    # Verify even for unknown users so timing does not reveal which usernames exist.
    stored = user.password_hash if user and user.active else _DUMMY_HASH
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(executor, verify_password, stored, password)
    return user if ok and user and user.active else None


_DUMMY_HASH = _hasher.hash("not-a-real-password")


async def open_session(
    db: AsyncSession,
    *,
    kind: str,
    hours: int,
    staff_id: int | None = None,
    party_id: int | None = None,
    link_id: int | None = None,
) -> str:
    token = new_token()
    db.add(
        WebSession(
            token_hash=token_hash(token),
            kind=kind,
            staff_id=staff_id,
            party_id=party_id,
            link_id=link_id,
            csrf_token=new_token(),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    await db.flush()
    return token


async def revoke_session(db: AsyncSession, principal: Principal) -> Revoked:
    """Logout: the session ends now (announce the result after commit)."""
    if principal.session_id is None:
        return Revoked((), ())
    await db.execute(
        update(WebSession).where(WebSession.id == principal.session_id).values(revoked_at=utcnow())
    )
    return Revoked((principal.key,), (principal.session_id,))


async def revoke_party_access(db: AsyncSession, party_ids: list[int]) -> Revoked:
    """Revokes the parties' live links and every session opened with them (a lost or leaked
    link must not leave a browser that opened it inside the case)."""
    now = utcnow()
    await db.execute(
        update(PartyLink)
        .where(PartyLink.party_id.in_(party_ids), PartyLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    sessions = list(
        await db.scalars(
            update(WebSession)
            .where(WebSession.party_id.in_(party_ids), WebSession.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(WebSession.id)
        )
    )
    return Revoked(tuple(f"party:{party_id}" for party_id in party_ids), tuple(sessions))


@functools.cache
def _session_query(hold: bool) -> Select[*tuple[Any, ...]]:
    """A session and its person in one statement, built once (every request with a cookie
    runs it; building a statement costs more than SQLite takes to run it). Columns, not rows:
    the principal needs a few of them."""
    query = (
        select(
            WebSession.id,
            WebSession.kind,
            WebSession.revoked_at,
            WebSession.expires_at,
            WebSession.csrf_token,
            StaffUser.id.label("staff_id"),
            StaffUser.role,
            StaffUser.org_id,
            StaffUser.display_name,
            StaffUser.active,
            Party.id.label("party_id"),
            Party.case_id,
            Party.name,
        )
        .outerjoin(StaffUser, StaffUser.id == WebSession.staff_id)
        .outerjoin(Party, Party.id == WebSession.party_id)
        .where(WebSession.token_hash == bindparam("token_hash"))
    )
    return query.with_for_update(read=True, of=WebSession) if hold else query


async def principal_from_session(
    db: AsyncSession, token: str, *, hold: bool = False
) -> Principal | None:
    """The session's principal, or None (unknown, expired, revoked). `hold`: the session row
    stays share-locked until `db`'s transaction ends (PostgreSQL; SQLite has no row locks), so
    a revocation waits for that transaction's commit and then sees what it wrote."""
    query = _session_query(hold)
    row = (await db.execute(query, {"token_hash": token_hash(token)})).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    if row.kind == "staff" and row.staff_id is not None:
        if not row.active:
            return None
        return Principal(
            kind="staff",
            staff_id=row.staff_id,
            role=row.role,
            org_id=row.org_id,
            name=row.display_name,
            session_id=row.id,
            csrf_token=row.csrf_token,
        )
    if row.kind == "party" and row.party_id is not None:
        return Principal(
            kind="party",
            party_id=row.party_id,
            case_id=row.case_id,
            name=row.name,
            session_id=row.id,
            csrf_token=row.csrf_token,
        )
    return None


# Columns, not the entity: loading a StaffUser object costs more CPU than the statement.
_TOKEN_OWNER = (
    select(StaffUser.id, StaffUser.role, StaffUser.org_id, StaffUser.display_name)
    .join(ApiToken, ApiToken.staff_id == StaffUser.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        StaffUser.active.is_(True),
    )
)


async def principal_from_api_token(db: AsyncSession, token: str) -> Principal | None:
    """The token's active staff member, in one statement (every API request pays it)."""
    conn = await db.connection()  # Core rows: the session's ORM execution costs more CPU
    user = (await conn.execute(_TOKEN_OWNER, {"token_hash": token_hash(token)})).first()
    if user is None:
        return None
    return Principal(
        kind="staff",
        staff_id=user.id,
        role=user.role,
        org_id=user.org_id,
        name=user.display_name,
        via_api=True,
    )


async def create_api_token(db: AsyncSession, staff_id: int, name: str) -> str:
    token = new_token()
    db.add(ApiToken(staff_id=staff_id, token_hash=token_hash(token), name=name))
    await db.flush()
    return token


async def issue_party_link(db: AsyncSession, party_id: int, days: int) -> str:
    """A fresh capability link token for one party (≥256 bits; only its hash is stored)."""
    token = new_token()
    db.add(
        PartyLink(
            party_id=party_id,
            token_hash=token_hash(token),
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    await db.flush()
    return token


async def redeem_party_link(db: AsyncSession, token: str) -> tuple[Party, PartyLink]:
    link = await db.scalar(select(PartyLink).where(PartyLink.token_hash == token_hash(token)))
    if link is None:
        raise Gone("This link is not valid. Please ask the mediation centre for a new one.")
    if link.revoked_at is not None or link.expires_at <= utcnow():
        raise Gone("This link has expired. Please ask the mediation centre for a new one.")
    party = await db.get(Party, link.party_id)
    if party is None:
        raise Gone("This link is not valid. Please ask the mediation centre for a new one.")
    link.last_used_at = utcnow()
    return party, link


principal_rkey = web.RequestKey("principal", Principal)
# Routes whose handler reads the session cookie itself, in its own transaction: the identity
# middleware leaves their principal anonymous (the room socket reads it with the join, which
# spares every join a pooled connection and a transaction of its own).
own_session_key = web.AppKey("own_session_routes", set[str])


def current(request: web.Request) -> Principal:
    return request.get(principal_rkey, ANONYMOUS)
