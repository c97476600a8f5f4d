"""The case page is assembled from panels that each feature registers (booking: appointments,
rooms: the room link, documents: agreement and court filing), so the kernel imports no feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import DomainError, ValidationFailed
from app.i18n import gettext
from app.models import Case


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict[str, Any]


@dataclass(frozen=True)
class FormFailure:
    """A case-page form that was refused: which one (its action path under the case), the
    message, per-field messages and what was typed, so the page can show it again."""

    form: str
    status: int
    message: str
    fields: dict[str, str]
    values: dict[str, str]

    @classmethod
    def of(cls, form: str, error: DomainError, values: dict[str, str]) -> FormFailure:
        fields = error.fields if isinstance(error, ValidationFailed) else {}
        return cls(form, error.status, gettext(error.message, **error.params), fields, values)


form_failure_rkey = web.RequestKey("form_failure", FormFailure)

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
