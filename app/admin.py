"""The admin's use cases: the organisation tree, staff and their roles, sign-in revocation, and
the deadline settings. An admin acts only inside their organisation's subtree."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, hash_password
from app.db import lock_row, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.i18n import N_
from app.identity import normalize_phone
from app.models import (
    COURT_ROLES,
    ORG_KINDS,
    ROLES,
    TIERS,
    ApiToken,
    Organization,
    StaffUser,
    WebSession,
)
from app.policy import org_subtree, subtree_query
from app.revocation import Revoked

NAME_MAX, SHORT_MAX, USERNAME_MAX, DISPLAY_MAX = 120, 8, 64, 64
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)
# No 0/O or 1/l/I: the password may be read aloud over the phone.
_UNAMBIGUOUS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

NO_ORG = N_("This organisation does not exist or is outside your organisation.")
NO_STAFF = N_("This staff member does not exist or is outside your organisation.")
BAD_NAME = N_("Please give a name of 1 to 120 characters.")
BAD_SHORT = N_("Please give a short name of 1 to 8 characters (used in case numbers).")
BAD_TIER = N_("Please choose a tier no higher than the parent organisation's.")
BAD_KIND = N_("Please choose the kind of organisation.")
BAD_USERNAME = N_("3 to 64 lower-case letters, digits, dots, dashes or underscores.")
USERNAME_TAKEN = N_("This user name is already taken.")
BAD_DISPLAY = N_("Please give the person's name (up to 64 characters).")
BAD_ROLE = N_("Please choose a role that fits the organisation (court clerks belong to courts).")
BAD_PHONE = N_("Please enter an 11-digit mainland mobile number.")
NOT_YOURSELF = N_("You cannot change your own role or deactivate yourself.")
ALREADY_INACTIVE = N_("This account is already deactivated.")
TOP_ADMIN_ONLY = N_("Only an administrator of a top-level organisation may change deadlines.")


def require_admin(principal: Principal) -> int:
    """The admin's organisation id (raises for anyone else)."""
    principal.require_staff("admin")
    if principal.role != "admin" or principal.org_id is None:
        raise PermissionDenied("You are not allowed to do this.")
    return principal.org_id


# --- the organisation tree -------------------------------------------------------------------


@dataclass
class OrgNode:
    org: Organization
    children: list[OrgNode] = field(default_factory=list)


async def org_tree(db: AsyncSession, root_id: int) -> OrgNode:
    """The admin's organisation with everything below it, nested, in one statement."""
    rows = list(
        await db.scalars(
            select(Organization)
            .where(Organization.id.in_(subtree_query(root_id)))
            .order_by(Organization.name, Organization.id)
        )
    )
    nodes = {org.id: OrgNode(org) for org in rows}
    for org in rows:
        if org.id != root_id and org.parent_id in nodes:
            nodes[org.parent_id].children.append(nodes[org.id])
    return nodes[root_id]


def flatten(node: OrgNode, depth: int = 0) -> list[tuple[int, Organization]]:
    found = [(depth, node.org)]
    for child in node.children:
        found += flatten(child, depth + 1)
    return found


@dataclass(frozen=True)
class OrgInput:
    parent_id: int | None
    name: str
    short_name: str
    tier: str
    kind: str


def _text(data: Mapping[str, object], name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def check_org(data: Mapping[str, object], *, new: bool) -> OrgInput:
    errors: dict[str, str] = {}
    name, short = _text(data, "name"), _text(data, "short_name")
    if not 1 <= len(name) <= NAME_MAX or "\n" in name:
        errors["name"] = BAD_NAME
    if not 1 <= len(short) <= SHORT_MAX or not short.isprintable():
        errors["short_name"] = BAD_SHORT
    if new and data.get("tier") not in TIERS:
        errors["tier"] = BAD_TIER
    if new and data.get("kind", "mediation") not in ORG_KINDS:
        errors["kind"] = BAD_KIND
    parent = data.get("parent_id")
    parent_id = parent if isinstance(parent, int) and not isinstance(parent, bool) else None
    if errors:
        raise ValidationFailed(errors)
    tier, kind = str(data.get("tier", "")), str(data.get("kind", "mediation"))
    return OrgInput(parent_id, name, short, tier, kind)


async def _org_in_scope(db: AsyncSession, principal: Principal, org_id: int | None) -> Organization:
    root = require_admin(principal)
    if org_id is None or org_id not in await org_subtree(db, root):
        raise NotFound(NO_ORG)
    org = await db.get(Organization, org_id)
    assert org is not None
    return org


async def do_create_org(db: AsyncSession, principal: Principal, wanted: OrgInput) -> Organization:
    """A child of an organisation in the admin's subtree, at its tier or below."""
    parent = await _org_in_scope(db, principal, wanted.parent_id)
    if wanted.kind == "court" or TIERS.index(wanted.tier) > TIERS.index(parent.tier):
        raise ValidationFailed({"tier" if wanted.kind != "court" else "kind": BAD_TIER})
    org = Organization(
        name=wanted.name,
        short_name=wanted.short_name,
        tier=wanted.tier,
        kind=wanted.kind,
        parent_id=parent.id,
    )
    db.add(org)
    await db.flush()
    return org


async def do_rename_org(
    db: AsyncSession, principal: Principal, org_id: int, wanted: OrgInput
) -> Organization:
    org = await _org_in_scope(db, principal, org_id)
    org.name, org.short_name = wanted.name, wanted.short_name
    await db.flush()
    return org


BAD_COURT = N_("Please choose one of the listed courts.")


async def courts(db: AsyncSession) -> list[Organization]:
    rows = await db.scalars(
        select(Organization).where(Organization.kind == "court").order_by(Organization.id)
    )
    return list(rows)


async def do_set_court(
    db: AsyncSession, principal: Principal, org_id: int, court_id: int | None
) -> Organization:
    """The basic court the organisation's committees apply to for judicial confirmation (its
    descendants inherit it); None: inherit from the parent."""
    org = await _org_in_scope(db, principal, org_id)
    court = await db.get(Organization, court_id) if court_id is not None else None
    if org.kind == "court" or (court_id is not None and (court is None or court.kind != "court")):
        raise ValidationFailed({"court_org_id": BAD_COURT})
    org.court_org_id = court_id
    await db.flush()
    return org


# --- staff -----------------------------------------------------------------------------------


async def staff_of(db: AsyncSession, root_id: int) -> list[StaffUser]:
    return list(
        await db.scalars(
            select(StaffUser)
            .where(StaffUser.org_id.in_(subtree_query(root_id)))
            .order_by(StaffUser.active.desc(), StaffUser.org_id, StaffUser.username)
        )
    )


@dataclass(frozen=True)
class StaffInput:
    org_id: int | None
    username: str
    display_name: str
    role: str
    phone: str | None


def check_staff(data: Mapping[str, object]) -> StaffInput:
    errors: dict[str, str] = {}
    username, display = _text(data, "username").lower(), _text(data, "display_name")
    if not _USERNAME.match(username):
        errors["username"] = BAD_USERNAME
    if not 1 <= len(display) <= DISPLAY_MAX or not display.isprintable():
        errors["display_name"] = BAD_DISPLAY
    if data.get("role") not in ROLES:
        errors["role"] = BAD_ROLE
    raw_phone = _text(data, "phone")
    phone = normalize_phone(raw_phone) if raw_phone else None
    if raw_phone and phone is None:
        errors["phone"] = BAD_PHONE
    org = data.get("org_id")
    org_id = org if isinstance(org, int) and not isinstance(org, bool) else None
    if errors:
        raise ValidationFailed(errors)
    return StaffInput(org_id, username, display, str(data["role"]), phone)


def _role_fits(role: str, org: Organization) -> bool:
    return (role in COURT_ROLES) == (org.kind == "court")


def one_time_password() -> str:
    return "".join(secrets.choice(_UNAMBIGUOUS) for _ in range(12))


async def _hash(executor: Executor, password: str) -> str:
    # argon2 takes tens of milliseconds of CPU: never on the event loop.
    return await asyncio.get_running_loop().run_in_executor(executor, hash_password, password)


async def do_create_staff(
    db: AsyncSession, executor: Executor, principal: Principal, wanted: StaffInput
) -> tuple[StaffUser, str]:
    """A new account and its one-time password (shown once; only its hash is stored)."""
    org = await _org_in_scope(db, principal, wanted.org_id)
    if not _role_fits(wanted.role, org):
        raise ValidationFailed({"role": BAD_ROLE})
    if await db.scalar(select(StaffUser.id).where(StaffUser.username == wanted.username)):
        raise ValidationFailed({"username": USERNAME_TAKEN})
    password = one_time_password()
    user = StaffUser(
        org_id=org.id,
        username=wanted.username,
        display_name=wanted.display_name,
        role=wanted.role,
        phone=wanted.phone,
        password_hash=await _hash(executor, password),
        active=True,
    )
    db.add(user)
    await db.flush()  # a concurrent twin fails here on the unique user name
    return user, password


async def _staff_in_scope(db: AsyncSession, principal: Principal, staff_id: int) -> StaffUser:
    root = require_admin(principal)
    user = await db.get(StaffUser, staff_id)
    if user is None or user.org_id not in await org_subtree(db, root):
        raise NotFound(NO_STAFF)
    return user


async def do_change_role(
    db: AsyncSession, principal: Principal, staff_id: int, role: str
) -> StaffUser:
    user = await _staff_in_scope(db, principal, staff_id)
    if user.id == principal.staff_id:
        raise Conflict(NOT_YOURSELF)
    org = await db.get(Organization, user.org_id)
    assert org is not None
    if role not in ROLES or not _role_fits(role, org):
        raise ValidationFailed({"role": BAD_ROLE})
    user.role = role
    await db.flush()
    return user


async def _revoke_sign_ins(db: AsyncSession, staff_id: int) -> Revoked:
    """Every browser session and API token of the account ends now (announce after commit)."""
    now = utcnow()
    await db.execute(
        update(ApiToken)
        .where(ApiToken.staff_id == staff_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    sessions = await db.scalars(
        update(WebSession)
        .where(WebSession.staff_id == staff_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(WebSession.id)
    )
    return Revoked((f"staff:{staff_id}",), tuple(sessions))


async def do_deactivate(db: AsyncSession, principal: Principal, staff_id: int) -> Revoked:
    user = await _staff_in_scope(db, principal, staff_id)
    if user.id == principal.staff_id:
        raise Conflict(NOT_YOURSELF)
    await lock_row(db, StaffUser, user.id)
    changed = await db.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(ALREADY_INACTIVE)
    return await _revoke_sign_ins(db, user.id)


async def do_reset_password(
    db: AsyncSession, executor: Executor, principal: Principal, staff_id: int
) -> tuple[StaffUser, str, Revoked]:
    """A new one-time password; the account's sessions and tokens end (it may have leaked)."""
    user = await _staff_in_scope(db, principal, staff_id)
    password = one_time_password()
    user.password_hash = await _hash(executor, password)
    await db.flush()
    return user, password, await _revoke_sign_ins(db, user.id)


def require_top_admin(principal: Principal, org: Organization) -> None:
    """Deadlines apply to every organisation: only an admin at the top of a tree sets them."""
    if principal.role != "admin" or org.parent_id is not None:
        raise PermissionDenied(TOP_ADMIN_ONLY)
