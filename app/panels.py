"""The case page is assembled from panels that each feature registers (booking: appointments,
rooms: the room link, documents: agreement and court filing), so the kernel imports no feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.models import Case


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]


PanelBuilder = Callable[[web.Request, AsyncSession, Principal, Case], Awaitable[Panel | None]]
panels_key = web.AppKey("case_panels", list[PanelBuilder])


def add_panel(app: web.Application, builder: PanelBuilder) -> None:
    app.setdefault(panels_key, []).append(builder)


async def build_panels(
    request: web.Request, db: AsyncSession, principal: Principal, case: Case
) -> list[Panel]:
    panels = []
    for builder in request.app.get(panels_key, []):
        panel = await builder(request, db, principal, case)
        if panel is not None:
            panels.append(panel)
    return panels
