"""After-care from the agreement (人民调解法 art. 31): each structured term with a deadline
becomes a performance item to supervise, through booking's after-care service (not its tables).
Deriving twice adds nothing: the case row's lock orders concurrent runs, and items already
there (same text, same day) are skipped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.db import lock_row
from app.errors import Conflict
from app.i18n import N_
from app.models import Case
from booking import aftercare
from booking.models import PerformanceItem
from documents.models import Agreement

NOT_EFFECTIVE = N_("The agreement must be in effect before its terms are followed up.")


def items_from(content: dict[str, Any]) -> list[aftercare.ItemInput]:
    """The obligations of a version: its structured terms that have a deadline."""
    names = {p["id"]: p["name"] for p in content["parties"]}
    everyone = "、".join(names.values())
    items = []
    for text, detail in zip(content["terms"], content.get("term_details", []), strict=False):
        if not detail.get("deadline"):
            continue
        items.append(
            aftercare.check_item(
                {
                    "what": text[: aftercare.WHAT_MAX_LENGTH],
                    "debtor": (names.get(detail.get("payer")) or everyone)[
                        : aftercare.DEBTOR_MAX_LENGTH
                    ],
                    "due_on": detail["deadline"],
                    "amount": detail.get("amount") or "",
                }
            )
        )
    return items


async def do_derive_items(
    db: AsyncSession, principal: Principal, case: Case
) -> list[PerformanceItem]:
    await lock_row(db, Case, case.id)
    await db.refresh(case)
    agreement = await db.scalar(
        select(Agreement).where(Agreement.case_id == case.id, Agreement.status == "effective")
    )
    if agreement is None:
        raise Conflict(NOT_EFFECTIVE)
    existing = {(i.what, i.due_on) for i in (await aftercare.aftercare_of(db, case.id)).items}
    added = []
    for item in items_from(agreement.content):
        if (item.what, item.due_on) not in existing:
            added.append(await aftercare.do_add_item(db, principal, case, item))
            existing.add((item.what, item.due_on))
    return added
