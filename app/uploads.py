"""Files uploaded with HTML forms.

A form body is read once: `request.post()` parses it (files spooled to temporary files, the
whole body bounded by the app's client_max_size) and caches the result, and the CSRF check reads
its token from that same parse. So a handler takes its files from here, never from
`request.multipart()`, whose stream the CSRF check has already consumed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

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
