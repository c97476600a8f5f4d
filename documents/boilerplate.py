"""The agreement's boilerplate (title, preamble, closing clauses) from the template store,
chosen when a version is drafted and kept in its content, so it is hashed and signed with the
rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.i18n import SHANGHAI
from app.labels import label
from app.models import Case, StaffUser
from app.services import parties_of
from documents import template_store


async def agreement_boilerplate(
    db: AsyncSession, case: Case, org_name: str, mediator: StaffUser | None
) -> dict[str, Any]:
    chosen = await template_store.choose(db, "agreement", case.dispute_type)
    today = utcnow().astimezone(SHANGHAI)
    values = {
        "org_name": org_name,
        "case_number": case.number or "",
        "dispute_type": label("dispute", case.dispute_type, "zh_CN"),
        "date": f"{today.year}年{today.month}月{today.day}日",
        "mediator_name": mediator.display_name if mediator else "",
        "parties": "、".join(p.name for p in await parties_of(db, case.id)),
    }
    title, preamble = template_store.render_wording(chosen.wording, values)
    closing = await template_store.choose(db, "agreement_closing", case.dispute_type)
    closing_title, clauses = template_store.render_wording(closing.wording, values)
    return {
        "template_version": chosen.version,
        "title": title,
        "preamble": preamble,
        "closing_version": closing.version,
        "closing_title": closing_title,
        "closing": clauses,
    }


def boilerplate_fields(content: dict[str, Any]) -> dict[str, Any]:
    """AgreementDoc's title and preamble from an agreement's content (none before the store)."""
    boilerplate = content.get("boilerplate")
    if not boilerplate:
        return {}
    fields = {"title": boilerplate["title"], "preamble": tuple(boilerplate["preamble"])}
    if "closing" in boilerplate:  # drafted before the closing clauses were in the store: none
        fields |= {
            "closing_title": boilerplate["closing_title"],
            "closing": tuple(boilerplate["closing"]),
        }
    return fields
