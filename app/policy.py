"""Who may see and act on which case. Every object access goes through here."""

from __future__ import annotations

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import NotFound, PermissionDenied
from app.i18n import N_
from app.models import Case, Organization

CASE_NOT_FOUND = N_("This case does not exist or you may not see it.")


def subtree_query(org_id: int) -> Select[tuple[int]]:
    """SELECT of the organisation's id and every id below it (a town sees its villages)."""
    tree = select(Organization.id).where(Organization.id == org_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Organization.id).where(Organization.parent_id == tree.c.id))
    return select(tree.c.id)


async def org_subtree(db: AsyncSession, org_id: int) -> set[int]:
    """The organisation and every organisation below it, in one statement."""
    return set(await db.scalars(subtree_query(org_id)))


async def can_view_case(db: AsyncSession, principal: Principal, case: Case) -> bool:
    if principal.kind == "party":
        return principal.case_id == case.id
    if principal.kind != "staff":
        return False
    if principal.role in ("admin", "coordinator"):
        return principal.org_id is not None and case.org_id in await org_subtree(
            db, principal.org_id
        )
    if principal.role in ("mediator", "expert"):
        return case.mediator_id == principal.staff_id
    if principal.role == "court_clerk":
        return await _filed_with_court(db, case.id, principal.org_id)
    return False


async def _filed_with_court(db: AsyncSession, case_id: int, court_org_id: int | None) -> bool:
    # Court staff see a case only once it has been filed with their court. Raw SQL because the
    # kernel does not import feature packages (documents owns the court_filings table).
    row = await db.execute(
        text("SELECT 1 FROM court_filings WHERE case_id = :c AND court_org_id = :o"),
        {"c": case_id, "o": court_org_id},
    )
    return row.first() is not None


async def load_case(db: AsyncSession, principal: Principal, case_id: int) -> Case:
    """The case, or NotFound — the same answer whether it is missing or forbidden."""
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
    if principal.role not in ("mediator", "coordinator", "admin"):
        raise PermissionDenied("Only the case's mediator may do this.")
