"""The court packet on the web: the viewer (re-verified on every opening), one file of it
inline, the ZIP, and the pull API's `GET /api/v1/court/filings/{id}/packet`.

Who may read a packet: the staff of the court it was filed with, and the case's mediator,
coordinators and administrators; anyone else (another court, a party, an expert) gets the same
404 as for a filing that does not exist.
"""

from __future__ import annotations

import asyncio
import functools
import json
import zipfile
from io import BytesIO
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import court_systems
from app.auth import Principal, current
from app.db import sessionmaker_key
from app.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied
from app.factory_keys import executor_key
from app.i18n import N_
from app.models import COURT_ROLES, Case, Organization
from app.openapi import document, error_responses, path_id
from app.policy import load_case, require_case_staff
from app.rendering import render
from app.storage import storage_key
from documents.court import require_court_staff
from documents.keys import seal_keys_key
from documents.models import CourtFiling, CourtPacket
from documents.packet import INLINE_TYPES, MANIFEST
from documents.packet_check import PacketCheck, check_packet
from documents.sealed import org_seal

NO_PACKET = N_("This packet does not exist or you may not see it.")
NOT_ASSEMBLED = N_("The packet is still being assembled. Please try again in a minute.")
NO_FILE = N_("This file is not in the packet.")
UNREADABLE = N_("The packet's file cannot be read from storage. Please tell the administrator.")


async def load_packet(
    db: AsyncSession, principal: Principal, filing_id: int
) -> tuple[CourtFiling, CourtPacket | None, Organization]:
    """The filing, its latest assembled packet (None while none is) and the committee that
    signed it; NotFound for anyone who may not read it."""
    if principal.kind == "anonymous":
        raise NotAuthenticated(N_("Please log in first."))
    filing = await db.get(CourtFiling, filing_id)
    if filing is None:
        raise NotFound(NO_PACKET)
    court = principal.kind == "court_system" or (
        principal.kind == "staff" and principal.role in COURT_ROLES
    )
    if court:
        if filing.court_org_id != principal.org_id:
            raise NotFound(NO_PACKET)
        case = await db.get(Case, filing.case_id)
    else:
        try:
            case = await load_case(db, principal, filing.case_id)
            require_case_staff(principal, case)
        except (NotFound, PermissionDenied):
            raise NotFound(NO_PACKET) from None
    assert case is not None
    packet = await db.scalar(
        select(CourtPacket)
        .where(CourtPacket.filing_id == filing.id, CourtPacket.sha256.is_not(None))
        .order_by(CourtPacket.version.desc())
        .limit(1)
    )
    org = await db.get(Organization, case.org_id)
    assert org is not None
    return filing, packet, org


async def _stored(request: web.Request) -> tuple[CourtFiling, CourtPacket, Organization, bytes]:
    async with request.app[sessionmaker_key]() as db:
        filing, packet, org = await load_packet(
            db, current(request), int(request.match_info["filing_id"])
        )
    if packet is None or packet.storage_key is None:
        raise Conflict(NOT_ASSEMBLED)
    try:
        data = await request.app[storage_key].get(packet.storage_key)
    except OSError:
        raise Conflict(UNREADABLE) from None
    return filing, packet, org, data


async def verify_stored(
    app: web.Application, packet: CourtPacket, org: Organization, data: bytes
) -> PacketCheck:
    key = await org_seal(app, org)
    loop = asyncio.get_running_loop()
    roots = await loop.run_in_executor(app[executor_key], app[seal_keys_key].trust_roots)
    check = functools.partial(check_packet, data, packet.sha256 or "", key.cert_pem, roots)
    return await loop.run_in_executor(app[executor_key], check)


async def viewer(request: web.Request) -> web.StreamResponse:
    """The packet re-verified: the court sees every check's result, never a hidden failure."""
    async with request.app[sessionmaker_key]() as db:
        filing, packet, org = await load_packet(
            db, current(request), int(request.match_info["filing_id"])
        )
    check = None
    if packet is not None and packet.storage_key is not None:
        try:
            data = await request.app[storage_key].get(packet.storage_key)
        except OSError:  # lost from storage: shown as a failed check, like a changed file
            data = b""
        check = await verify_stored(request.app, packet, org, data)
    context = {"filing": filing, "packet": packet, "check": check, "inline": INLINE_TYPES}
    return render(request, "documents/packet.html", context)


def _zip_response(filing: CourtFiling, packet: CourtPacket, data: bytes) -> web.Response:
    name = f"court-packet-{filing.id}-v{packet.version}.zip"
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Packet-SHA256": packet.sha256 or "",
        },
    )


async def download(request: web.Request) -> web.StreamResponse:
    filing, packet, _org, data = await _stored(request)
    return _zip_response(filing, packet, data)


def _member(data: bytes, index: int) -> tuple[str, str, bytes] | None:
    """(name, media type, bytes) of the manifest's `index`-th file, or None."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        listed = json.loads(archive.read(MANIFEST))["files"]
        if not 0 <= index < len(listed) or listed[index]["name"] not in archive.namelist():
            return None
        entry = listed[index]
        return entry["name"], entry["media_type"], archive.read(entry["name"])


async def packet_file(request: web.Request) -> web.StreamResponse:
    """One file of the packet, inline (the viewer shows PDFs in a frame of this page)."""
    filing, _packet, _org, data = await _stored(request)
    index = int(request.match_info["index"])
    loop = asyncio.get_running_loop()
    try:
        member = await loop.run_in_executor(request.app[executor_key], _member, data, index)
    except (zipfile.BadZipFile, KeyError, ValueError):
        member = None
    if member is None:
        raise NotFound(NO_FILE)
    _name, media_type, body = member
    inline = media_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    return web.Response(
        body=body,
        content_type=media_type if inline else "application/octet-stream",
        headers={
            "Content-Disposition": f'{disposition}; filename="packet-{filing.id}-file-{index}"',
            "Cache-Control": "private, no-store",
            # Framed by the viewer (same origin) only; the global DENY would blank the frame.
            "X-Frame-Options": "SAMEORIGIN",
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'self'",
        },
    )


async def api_packet(request: web.Request) -> web.StreamResponse:
    """The pull API: the court's systems fetch the latest packet as a ZIP."""
    require_court_staff(current(request))
    filing, packet, _org, data = await _stored(request)
    return _zip_response(filing, packet, data)


API_PATH = "/api/v1/court/filings/{filing_id}/packet"
_ZIP: dict[str, Any] = {
    "description": "the packet (ZIP): the files, manifest.json, its detached CMS signature "
    "manifest.sig and the signer's certificate; its SHA-256 in the X-Packet-SHA256 header",
    "headers": {"X-Packet-SHA256": {"schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(r"/filings/{filing_id:\d{1,9}}/packet", viewer)
    r.add_get(r"/filings/{filing_id:\d{1,9}}/packet.zip", download)
    r.add_get(r"/filings/{filing_id:\d{1,9}}/packet/files/{index:\d{1,4}}", packet_file)
    r.add_get(r"/api/v1/court/filings/{filing_id:\d{1,9}}/packet", api_packet)
    app[court_systems.routes_key].add(API_PATH)  # the court's system token fetches it too
    document(
        app,
        API_PATH,
        "get",
        {
            "operationId": "courtPacket",
            "summary": "The latest packet of a filing with the court of the clerk or judge, "
            "as the mediation committee assembled and signed it.",
            "parameters": [path_id("filing_id")],
            "responses": {"200": _ZIP, **error_responses(403, 404, 409)},
        },
    )
