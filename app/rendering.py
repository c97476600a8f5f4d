"""Jinja2 set-up shared by every feature's pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from app import i18n
from app.auth import current
from app.identity import mask_phone
from app.labels import label
from app.security import CSRF_FIELD, csrf_token
from app.settings import ROOT


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(_=i18n.gettext, gettext=i18n.gettext, ngettext=i18n.ngettext, label=label)
    env.filters.update(datetime=i18n.format_datetime, date=i18n.format_date, phone=mask_phone)


def _context(request: web.Request) -> dict[str, Any]:
    return {
        "request": request,
        "principal": current(request),
        "locale": i18n.get_locale(),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
    }


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, {**_context(request), **(context or {})}, status=status
    )
