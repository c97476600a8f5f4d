"""Intake's JSON API: applications (public with an SMS code, or staff with a token) and the
progress lookup. The same checks and writes as the /apply form (booking/intake_views.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import current
from app.errors import ValidationFailed
from app.forms import read_json
from app.i18n import N_, gettext
from app.identity import normalize_phone
from booking.intake_forms import Flat, api_field_names, application_json
from booking.intake_views import filing, is_desk, public_owner
from booking.phone_codes import apply_subject, send_code

BAD_PHONE = N_("Please enter an 11-digit mainland mobile number.")
CODE_TEXTED = N_("We sent a 6-digit code to this phone. It is valid for a few minutes.")


async def _file(request: web.Request, body: dict[str, object], desk: bool) -> web.Response:
    flat = application_json(body)
    action = filing(request, flat.fields, desk)

    async def checked(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        try:
            return await action(db)
        except ValidationFailed as error:
            raise api_field_names(error, flat) from error

    key = idempotency.key_from(request)
    request_hash = idempotency.fingerprint("POST", request.path, body)
    stored = await idempotency.run(
        request.app, _idempotency_owner(request, flat, desk), key, request_hash, checked
    )
    return idempotency.json_response(stored)


def _idempotency_owner(request: web.Request, flat: Flat, desk: bool) -> str:
    """Whose keys these are: the staff member's, or (public) the applicant phone's, so two
    members of the public who both pick the key "1" do not collide."""
    if desk:
        return current(request).key
    return public_owner(flat.fields)


async def create_application(request: web.Request) -> web.StreamResponse:
    desk = is_desk(current(request))
    return await _file(request, await read_json(request), desk)


async def create_case(request: web.Request) -> web.StreamResponse:
    """The older staff-only route: the same as a staff member's POST /api/v1/applications."""
    current(request).require_staff("coordinator")
    return await _file(request, await read_json(request), desk=True)


async def request_application_code(request: web.Request) -> web.StreamResponse:
    """Texts the code that POST /api/v1/applications then carries as `phone_code`."""
    body = await read_json(request)
    raw = body.get("phone")
    phone = normalize_phone(raw) if isinstance(raw, str) else None
    if phone is None:
        raise ValidationFailed({"phone": BAD_PHONE})
    await send_code(request, "apply", apply_subject(phone), phone)
    return web.json_response({"message": gettext(CODE_TEXTED)}, status=202)
