"""Intake's panels on the case page: how the case came in (channel, receipt, agents, the group's
member list) and its evidence, with an upload form for the parties and the case's staff."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.models import Case, Party, StaffUser
from app.panels import Panel, add_panel
from app.policy import Action, can
from app.settings import settings_key
from booking.evidence import CLOSED, CONTENT_TYPES, visible_evidence
from booking.models import GroupMember, PartyAgent

MEMBERS_SHOWN = 200  # the page lists this many members; the count is always complete


async def intake_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    agents = list(
        await db.execute(
            select(PartyAgent, Party.name)
            .join(Party, Party.id == PartyAgent.party_id)
            .where(Party.case_id == case.id)
            .order_by(PartyAgent.id)
        )
    )
    organisations = list(
        await db.scalars(
            select(Party).where(Party.case_id == case.id, Party.kind == "organisation")
        )
    )
    count = await db.scalar(select(func.count()).where(GroupMember.case_id == case.id)) or 0
    staff = principal.kind == "staff"
    members = []
    if staff and count:
        members = list(
            await db.scalars(
                select(GroupMember)
                .where(GroupMember.case_id == case.id)
                .order_by(GroupMember.position)
                .limit(MEMBERS_SHOWN)
            )
        )
    mediator = (
        await db.get(StaffUser, case.preferred_mediator_id) if case.preferred_mediator_id else None
    )
    context = {
        "agents": agents,
        "organisations": organisations,
        "member_count": count,
        "members": members,
        "mediator": mediator,
        "staff": staff,
    }
    return Panel("booking/panel_intake.html", context)


async def evidence_panel(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> Panel | None:
    if not await can(db, principal, Action.EVIDENCE, case):
        return None
    settings = request.app[settings_key]
    context = {
        "evidence": await visible_evidence(db, principal, case),
        "can_upload": case.status not in CLOSED,
        "max_mb": settings.evidence_max_bytes // (1024 * 1024),
        "max_bytes": settings.evidence_max_bytes,
        "accept": ",".join(CONTENT_TYPES),
        "sees_all": principal.kind == "staff",
    }
    return Panel("booking/evidence_panel.html", context)


def setup(app: web.Application) -> None:
    add_panel(app, intake_panel)
    add_panel(app, evidence_panel)
