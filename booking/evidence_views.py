"""Evidence over HTTP: upload (an HTML form, the page's progress-bar script, or the API), the
JSON list, and downloads that the browser saves rather than opens."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.db import sessionmaker_key
from app.errors import NotAuthenticated, NotFound, UserError
from app.factory_keys import executor_key
from app.forms import parse_id
from app.i18n import N_, SHANGHAI
from app.middleware import wants_json
from app.policy import load_case
from app.settings import settings_key
from app.storage import storage_key
from app.uploads import Upload
from booking.evidence import (
    NO_FILE,
    NO_SUCH_FILE,
    check_file,
    check_kind,
    check_upload,
    do_add_evidence,
    load_evidence,
    new_storage_key,
    visible_evidence,
)
from booking.models import Evidence
from booking.views import case_id_of

UNREADABLE = N_("The upload could not be read. Please choose the file again.")
MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and part headers around the file


def evidence_json(row: Evidence, viewer: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "case_id": row.case_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "mine": row.uploader == viewer,
        "uploaded_by": row.uploader.partition(":")[0],
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
        "url": f"/cases/{row.case_id}/evidence/{row.id}",
        "kind": row.kind,
    }


async def _posted_file(request: web.Request) -> tuple[Upload, str]:
    """The file and what it is (field `kind`, evidence by default)."""
    try:
        form = await request.post()
    except (HttpProcessingError, ValueError) as error:  # a malformed multipart body
        raise UserError(UNREADABLE) from error
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise UserError(NO_FILE)
    with field.file:  # spooled to a temporary file by request.post(); closed once read
        data = field.file.read()
    return Upload(field.filename or "", data), check_kind(form.get("kind"))


async def upload(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal.kind == "anonymous":
        raise NotAuthenticated("Please log in first.")
    case_id = case_id_of(request)
    settings, storage = request.app[settings_key], request.app[storage_key]
    file, kind = await _posted_file(request)
    checked = check_file(file, settings.evidence_max_bytes)
    loop = asyncio.get_running_loop()
    digest = await loop.run_in_executor(request.app[executor_key], _sha256, file.data)
    key = new_storage_key(case_id)

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        case = await check_upload(db, principal, case_id)
        row = await do_add_evidence(db, storage, principal, case, file, checked, key, kind)
        return 201, evidence_json(row, principal.key)

    request_hash = idempotency.fingerprint(
        "POST", request.path, {"sha256": digest, "name": file.filename, "kind": kind}
    )
    try:
        stored = await idempotency.run(
            request.app, principal.key, idempotency.key_from(request), request_hash, action
        )
    except BaseException:
        await storage.delete(key)  # the row was not written: neither is the file
        raise
    if stored.replayed:
        await storage.delete(key)
    if wants_json(request):
        return idempotency.json_response(stored)
    raise web.HTTPSeeOther(f"/cases/{case_id}#evidence")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def listing(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    case_id = case_id_of(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        rows = await visible_evidence(db, principal, case)
    return web.json_response({"evidence": [evidence_json(row, principal.key) for row in rows]})


def content_disposition(filename: str) -> str:
    """attachment, with an ASCII fallback name and the real one in RFC 5987 form."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def download(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    case_id = case_id_of(request)
    evidence_id = parse_id(request.match_info["evidence_id"])
    if evidence_id is None:
        raise NotFound(NO_SUCH_FILE)
    async with request.app[sessionmaker_key]() as db:
        row = await load_evidence(db, principal, case_id, evidence_id)
    data = await request.app[storage_key].get(row.storage_key)
    response = web.Response(body=data, content_type=row.content_type)
    response.headers["Content-Disposition"] = content_disposition(row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def upload_limit(max_bytes: int) -> int:
    return max_bytes + MULTIPART_OVERHEAD
