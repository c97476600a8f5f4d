"""A signing or declining request as the agreement's and the joint application's pages send it,
read and checked once for both, and the evidence the request itself gives (address, browser,
session and link)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import UserError
from app.forms import read_json
from app.i18n import N_
from documents import ceremony
from documents.services import decode_signature_image

UNREADABLE = N_("The request could not be read.")
NO_STEP_UP = ceremony.StepUp(None, None, None, None)


@dataclass(frozen=True)
class SignRequest:
    version_hash: str
    png: bytes
    code: object


async def read_sign(request: web.Request) -> SignRequest:
    """JSON {version_hash, image: data:image/png;base64,..., code, consent: true}."""
    body = await read_json(request)
    if not isinstance(body.get("version_hash"), str):
        raise UserError(UNREADABLE)
    png = decode_signature_image(body.get("image"))
    if body.get("consent") is not True:
        raise UserError(ceremony.NO_CONSENT)
    return SignRequest(body["version_hash"], png, body.get("code"))


async def read_decline(request: web.Request) -> tuple[str, str]:
    """JSON {version_hash, reason}: the version refused and why."""
    body = await read_json(request)
    reason = ceremony.check_reason(body.get("reason"))
    return str(body.get("version_hash")), reason


async def evidence(
    db: AsyncSession,
    principal: Principal,
    request: web.Request,
    step_up: ceremony.StepUp = NO_STEP_UP,
) -> dict[str, Any]:
    user_agent = request.headers.get("User-Agent", "")
    return await ceremony.evidence_of(db, principal, request.remote, user_agent, step_up)
