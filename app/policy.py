"""Who may see and act on which case. Every object access goes through here."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BindParameter, Select, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import NotAuthenticated, NotFound, PermissionDenied
from app.i18n import N_
from app.models import COURT_ROLES, ROLES, Case, CaseStaff, Organization

CASE_NOT_FOUND = N_("This case does not exist or you may not see it.")


def subtree_query(org_id: int | BindParameter[int]) -> Select[tuple[int]]:
    """SELECT of the organisation's id and every id below it (a town sees its villages)."""
    tree = select(Organization.id).where(Organization.id == org_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Organization.id).where(Organization.parent_id == tree.c.id))
    return select(tree.c.id)


async def org_subtree(db: AsyncSession, org_id: int) -> set[int]:
    """The organisation and every organisation below it, in one statement."""
    return set(await db.scalars(subtree_query(org_id)))


class Action(StrEnum):
    """What a principal may do to a case. Services, views and panels ask `can`/`require` with
    one of these instead of comparing role strings."""

    VIEW = "case:view"
    REGISTER = "case:register"  # 受理, 不予受理, 分流
    DISPATCH = "case:dispatch"  # 派单, reassign, escalate, add to the team
    SUPERVISE = "case:supervise"  # 督办/催办 from the tier above
    CONDUCT = "case:conduct"  # the mediator's work: accept, outcome, close, host the room
    BOOK = "appointment:book"
    DRAFT = "agreement:draft"
    SIGN = "agreement:sign"
    FILE = "filing:file"
    REVIEW = "filing:review"  # the clerk's pre-review: accept, not accept, ask a supplement
    DECIDE = "filing:decide"  # the judge's ruling and the extension of its clock
    EVIDENCE = "evidence:add"  # upload evidence; staff with it see every party's uploads
    ACCEPT = "case:accept"  # 接单/退单: answer a dispatch addressed to one's organisation or self
    RESCHEDULE = "appointment:reschedule"  # move or cancel (a party: within the notice period)
    ATTENDANCE = "appointment:attendance"  # mark a no-show


COORDINATING = frozenset({"admin", "coordinator"})
# Staff actions by role, beyond seeing the case. Coordinators and admins act on every case of
# their organisation's subtree; mediators on their own cases; experts only see theirs.
_STAFF_RULES: dict[Action, frozenset[str]] = {
    Action.VIEW: frozenset({"admin", "coordinator", "mediator", "expert", *COURT_ROLES}),
    Action.REGISTER: COORDINATING,
    Action.DISPATCH: COORDINATING,
    Action.SUPERVISE: COORDINATING,
    Action.CONDUCT: COORDINATING | {"mediator"},
    Action.BOOK: COORDINATING,
    Action.DRAFT: frozenset({"mediator"}),
    Action.SIGN: frozenset({"mediator"}),
    Action.FILE: frozenset({"mediator"}),
    Action.REVIEW: frozenset({"court_clerk"}),
    Action.DECIDE: frozenset({"judge"}),
    Action.EVIDENCE: frozenset({"admin", "coordinator", "mediator", "expert"}),
    Action.ACCEPT: COORDINATING | {"mediator"},
    Action.RESCHEDULE: COORDINATING,
    Action.ATTENDANCE: COORDINATING | {"mediator"},
}
_PARTY_ACTIONS = frozenset({Action.VIEW, Action.SIGN, Action.EVIDENCE, Action.RESCHEDULE})
# Actions only the case's own mediator takes (not a co-mediator of its team, not the office).
_OWN_MEDIATOR_ONLY = frozenset({Action.DRAFT, Action.SIGN, Action.FILE})
NOT_ALLOWED = N_("You are not allowed to do this.")


async def can(db: AsyncSession, principal: Principal, action: Action, case: Case) -> bool:
    if principal.kind == "party":
        return action in _PARTY_ACTIONS and principal.case_id == case.id
    if principal.kind != "staff" or principal.role not in _STAFF_RULES[action]:
        return False
    if action in _OWN_MEDIATOR_ONLY:
        return case.mediator_id == principal.staff_id
    return await can_view_case(db, principal, case)


def may(principal: Principal, action: Action) -> bool:
    """Whether the principal's role may take `action` at all (for actions whose object is not
    yet visible to them, such as a dispatch addressed to their organisation)."""
    return principal.kind == "staff" and principal.role in _STAFF_RULES[action]


async def require(db: AsyncSession, principal: Principal, action: Action, case: Case) -> None:
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    if not await can(db, principal, action, case):
        raise PermissionDenied(NOT_ALLOWED)


async def can_view_case(db: AsyncSession, principal: Principal, case: Case) -> bool:
    if principal.kind == "party":
        return principal.case_id == case.id
    if principal.kind == "court_system":
        return await _filed_with_court(db, case.id, principal.org_id)
    if principal.kind != "staff":
        return False
    if principal.role in COORDINATING:
        return principal.org_id is not None and case.org_id in await org_subtree(
            db, principal.org_id
        )
    if principal.role in ("mediator", "expert"):
        return case.mediator_id == principal.staff_id or await on_team(db, case.id, principal)
    if principal.role in COURT_ROLES:
        return await _filed_with_court(db, case.id, principal.org_id)
    return False


async def on_team(db: AsyncSession, case_id: int, principal: Principal) -> bool:
    found = await db.scalar(
        select(CaseStaff.case_id).where(
            CaseStaff.case_id == case_id, CaseStaff.staff_id == principal.staff_id
        )
    )
    return found is not None


async def _filed_with_court(db: AsyncSession, case_id: int, court_org_id: int | None) -> bool:
    # Court staff see a case only once it has been filed with their court. Raw SQL because the
    # kernel does not import feature packages (documents owns the court_filings table).
    row = await db.execute(
        text("SELECT 1 FROM court_filings WHERE case_id = :c AND court_org_id = :o"),
        {"c": case_id, "o": court_org_id},
    )
    return row.first() is not None


_OFFICE_CASE = select(Case, Case.org_id.in_(subtree_query(bindparam("org_id")))).where(
    Case.id == bindparam("case_id")
)


async def load_case(db: AsyncSession, principal: Principal, case_id: int) -> Case:
    """The case, or NotFound — the same answer whether it is missing or forbidden."""
    if principal.kind == "staff" and principal.role in COORDINATING and principal.org_id:
        # The office's staff see their subtree's cases: the row and that check in one statement.
        values = {"case_id": case_id, "org_id": principal.org_id}
        row = (await db.execute(_OFFICE_CASE, values)).first()
        if row is None or not row[1]:
            raise NotFound(CASE_NOT_FOUND)
        return row[0]
    case = await db.get(Case, case_id)
    if case is None or not await can_view_case(db, principal, case):
        raise NotFound(CASE_NOT_FOUND)
    return case


def require_case_staff(principal: Principal, case: Case) -> None:
    """Mediator of the case, or a coordinator/admin who can see it (checked by load_case)."""
    if principal.kind != "staff":
        raise PermissionDenied("Only the case's mediator may do this.")
    if principal.role == "mediator" and case.mediator_id != principal.staff_id:
        raise PermissionDenied("Only the case's mediator may do this.")
    if principal.role not in _STAFF_RULES[Action.CONDUCT]:
        raise PermissionDenied("Only the case's mediator may do this.")


def role_actions() -> dict[str, list[Action]]:
    """What each staff role may do to the cases it can see (for the admin's roles page)."""
    return {
        role: [action for action, roles in _STAFF_RULES.items() if role in roles] for role in ROLES
    }
