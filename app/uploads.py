"""Files uploaded with HTML forms.

A form body is read once: `request.post()` parses it (files spooled to temporary files, the
whole body bounded by the app's client_max_size) and caches the result, and the CSRF check reads
its token from that same parse. So a handler takes its files from here, never from
`request.multipart()`, whose stream the CSRF check has already consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from app.errors import UserError
from app.i18n import N_

PDF_MAGIC = b"%PDF-"
NOT_A_PDF = N_("This file is not a PDF.")


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def uploaded_file(
    request: web.Request, name: str, *, magic: bytes, missing: str, wrong_type: str
) -> Upload:
    """The file sent in form field `name`, checked by its content's first bytes (`magic`), not
    by the name or type the browser claims."""
    field = (await request.post()).get(name)
    if not isinstance(field, web.FileField):
        raise UserError(missing)
    data = field.file.read()
    if not data:
        raise UserError(missing)
    if not data.startswith(magic):
        raise UserError(wrong_type)
    return Upload(field.filename, data)


# Per-route body limits. The app's client_max_size (app/factory.py MAX_BODY) bounds every body;
# a route that takes larger files (evidence) names its own limit here, and only it gets it.
body_limits_key = web.AppKey("body_limits", dict[str, int])


def allow_body(app: web.Application, route_name: str, limit: int) -> None:
    """Bodies up to `limit` bytes for the route registered under `route_name`."""
    app.setdefault(body_limits_key, {})[route_name] = limit


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # First in the chain: the CSRF check parses form bodies, so the limit must be set before.
    route = request.match_info.route.name
    limit = request.app.get(body_limits_key, {}).get(route) if route else None
    if limit is not None:
        request = request.clone(client_max_size=limit)
    return await handler(request)
