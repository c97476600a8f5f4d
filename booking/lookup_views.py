"""The public progress lookup page (/lookup) and its API twins."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.db import transaction
from app.errors import Conflict, TooManyRequests, UserError, ValidationFailed
from app.forms import form_dict, read_json
from app.i18n import N_, SHANGHAI, gettext
from app.identity import normalize_phone
from app.labels import label
from app.otp import issue_code
from app.rendering import render
from app.settings import settings_key
from app.throttle import Limit, client_address, throttle_key
from booking.lookup import (
    CODE_MAYBE_SENT,
    NO_MATCH,
    Progress,
    find_case,
    lookup_subject,
    normalize_reference,
    progress,
)
from booking.phone_codes import TOO_MANY_CODES, count_request, verify
from booking.views import NO_STORE

BAD_REFERENCE = N_("Please enter the case number or the receipt number.")
BAD_PHONE = N_("Please enter an 11-digit mainland mobile number.")


def _fields(data: dict[str, Any]) -> tuple[str, str]:
    """(reference, phone) from a form or a JSON body, or ValidationFailed."""
    raw_reference, raw_phone = data.get("reference", ""), data.get("phone", "")
    errors = {}
    reference = normalize_reference(raw_reference) if isinstance(raw_reference, str) else ""
    if not 1 <= len(reference) <= 64:
        errors["reference"] = BAD_REFERENCE
    phone = normalize_phone(raw_phone) if isinstance(raw_phone, str) else None
    if phone is None:
        errors["phone"] = BAD_PHONE
    if errors or phone is None:
        raise ValidationFailed(errors)
    return reference, phone


async def send_lookup_code(request: web.Request, reference: str, phone: str) -> None:
    """Texts a code only when the case and phone match; the caller answers the same either way."""
    await count_request(request, "code")
    try:
        async with transaction(request.app) as db:
            case = await find_case(db, reference, phone)
            if case is not None:
                settings = request.app[settings_key]
                subject = lookup_subject(reference, phone)
                await issue_code(db, settings, "lookup", subject, phone, case_id=case.id)
    except TooManyRequests:
        pass  # a code went out less than a minute ago: it still works, and saying so would tell


async def verified_progress(
    request: web.Request, reference: str, phone: str, code: str
) -> Progress:
    """The case's progress once the code checks out; UserError(NO_MATCH) for anything else."""
    settings = request.app[settings_key]
    limit = Limit(f"lookup:client:{client_address(request)}", settings.lookups_per_client)
    await request.app[throttle_key].attempt(limit, message=TOO_MANY_CODES)
    async with transaction(request.app) as db:
        try:
            await verify(request, db, "lookup", lookup_subject(reference, phone), code)
        except (UserError, Conflict) as error:  # wrong, expired, used, locked: all look alike
            raise UserError(NO_MATCH) from error
        case = await find_case(db, reference, phone)
        if case is None:
            raise UserError(NO_MATCH)
        return await progress(db, case)


def _page(request: web.Request, context: dict[str, Any], status: int = 200) -> web.Response:
    values = context.setdefault("values", {})
    values.pop("code", None)
    for name in ("found", "notice", "problem"):
        context.setdefault(name, None)
    context.setdefault("errors", {})
    response = render(request, "booking/lookup.html", context, status=status)
    response.headers.update(NO_STORE)
    return response


async def lookup_form(request: web.Request) -> web.StreamResponse:
    return _page(request, {})


async def lookup_submit(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())
    try:
        reference, phone = _fields(data)
        if data.get("action") == "send_code":
            await send_lookup_code(request, reference, phone)
            return _page(request, {"values": data, "notice": CODE_MAYBE_SENT})
        found = await verified_progress(request, reference, phone, data.get("code", ""))
    except ValidationFailed as error:
        return _page(request, {"values": data, "errors": error.fields}, status=422)
    except TooManyRequests as error:
        response = _page(request, {"values": data, "problem": error}, status=429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except UserError as error:
        return _page(request, {"values": data, "errors": {"code": error.message}}, status=400)
    return _page(request, {"values": data, "found": found})


# --- the API -------------------------------------------------------------------------------


def progress_json(found: Progress) -> dict[str, Any]:
    case = found.case
    deadline = case.deadline_at.astimezone(SHANGHAI).isoformat() if case.deadline_at else None
    return {
        "number": case.number,
        "receipt": case.receipt,
        "status": case.status,
        "status_label": label("status", case.status),
        "deadline_at": deadline,
        "next_step": gettext(found.next_step),
        "timeline": [
            {
                "at": event.at.astimezone(SHANGHAI).isoformat(),
                "kind": event.kind,
                "label": label("event", event.kind),
            }
            for event in found.events
        ],
    }


async def api_lookup_code(request: web.Request) -> web.StreamResponse:
    reference, phone = _fields(await read_json(request))
    await send_lookup_code(request, reference, phone)
    return web.json_response({"message": gettext(CODE_MAYBE_SENT)}, status=202)


async def api_lookup(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    reference, phone = _fields(body)
    code = body.get("code")
    found = await verified_progress(
        request, reference, phone, code if isinstance(code, str) else ""
    )
    return web.json_response(progress_json(found), headers=NO_STORE)
