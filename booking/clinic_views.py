"""The appointment clinic's public pages: pick a duty session, prove the phone by SMS code, take
a place; the link in the SMS shows the place and cancels it. Same services as the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.db import sessionmaker_key, transaction, utcnow
from app.errors import (
    Conflict,
    DomainError,
    Gone,
    PermissionDenied,
    TooManyRequests,
    UserError,
    ValidationFailed,
)
from app.forms import form_dict
from app.otp import LOCKED, WRONG_CODE
from app.rendering import render
from app.security import CSRF_FIELD
from app.settings import settings_key
from app.tokens import new_token
from booking import clinic, clinic_api
from booking.phone_codes import send_code, verify
from booking.views import NO_STORE

# The place page keeps the default "same-origin" referrer policy: with "no-referrer" Chromium
# posts its cancel form with `Origin: null`, which the CSRF check refuses; the page links to no
# other origin, so the token in its URL goes nowhere else.
TOKEN_HEADERS = NO_STORE
CODE_TEXTED = clinic_api.CODE_TEXTED


async def _page(request: web.Request, context: dict[str, Any], status: int = 200) -> web.Response:
    async with request.app[sessionmaker_key]() as db:
        sessions = await clinic.open_sessions(db)
    values = context.setdefault("values", {})
    values.pop("phone_code", None)
    values.setdefault("submission_id", new_token())
    for name in ("notice", "problem"):
        context.setdefault(name, None)
    context.setdefault("errors", {})
    context["sessions"] = sessions
    response = render(request, "booking/clinic.html", context, status=status)
    response.headers.update(NO_STORE)
    return response


async def clinic_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, {})


def _fields(data: dict[str, str], booking: bool) -> tuple[int | None, str, str]:
    errors: dict[str, str] = {}
    phone = clinic_api.phone_of(data, errors)
    name = clinic_api.name_of(data, errors) if booking else ""
    raw = data.get("session_id", "")
    session_id = int(raw) if raw.isdigit() and len(raw) <= 9 else None
    if booking and session_id is None:
        errors["session_id"] = clinic.NO_SUCH_SESSION
    if booking and not data.get("phone_code", "").strip():
        errors["phone_code"] = "Please enter the code from the SMS."
    if errors:
        raise ValidationFailed(errors)
    return session_id, name, phone


async def clinic_submit(request: web.Request) -> web.StreamResponse:
    data = form_dict(await request.post())
    booking = data.get("action") != "send_code"
    try:
        session_id, name, phone = _fields(data, booking)
        if not booking:
            await send_code(request, clinic.CODE_PURPOSE, clinic.code_subject(phone), phone)
            return await _page(request, {"values": data, "notice": CODE_TEXTED})
        assert session_id is not None
        settings = request.app[settings_key]
        tokens: list[str] = []  # the link's token for this answer only: never stored

        async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
            code_id = await verify(
                request, db, clinic.CODE_PURPOSE, clinic.code_subject(phone), data["phone_code"]
            )
            place, _session, token = await clinic.do_book_place(
                db, settings, session_id, name, phone, code_id
            )
            tokens.append(token)
            return 201, {"place_id": place.id}

        stored = await _once(request, data, f"clinic:{phone}", action)
    except ValidationFailed as error:
        return await _page(request, {"values": data, "errors": error.fields}, status=422)
    except TooManyRequests as error:
        response = await _page(request, {"values": data, "problem": error}, status=429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except (UserError, Conflict) as error:
        field = "phone_code" if error.message in _CODE_PROBLEMS else "session_id"
        status = 409 if isinstance(error, Conflict) and field == "session_id" else 400
        return await _page(request, {"values": data, "errors": {field: error.message}}, status)
    except DomainError as error:
        return await _page(request, {"values": data, "problem": error}, status=error.status)
    async with request.app[sessionmaker_key]() as db:
        place, session = await clinic.place_by_id(db, stored.body["place_id"])
    # The page that answers the form is the holder's own: it may offer the cancel button (not
    # on a replay of a double tap, whose token only the SMS carries).
    return _place(request, place, session, booked=True, token=tokens[0] if tokens else None)


async def _once(
    request: web.Request, data: dict[str, str], owner: str, action: idempotency.Action
) -> idempotency.StoredResponse:
    """Books once per `submission_id`: a double tap on a phone sends the form twice, and the
    second would otherwise meet its own code already used."""
    key = data.get("submission_id") or None
    key = key if key and len(key) <= idempotency.MAX_KEY_LENGTH else None
    payload = {k: v for k, v in sorted(data.items()) if k not in (CSRF_FIELD, "submission_id")}
    request_hash = idempotency.fingerprint(request.method, request.path, payload)
    try:
        return await idempotency.run(request.app, owner, key, request_hash, action)
    except idempotency.IdempotencyKeyReused:  # the old form sent back with new content
        return await idempotency.run(request.app, owner, None, request_hash, action)


_CODE_PROBLEMS = {WRONG_CODE, LOCKED}


def _place(request: web.Request, place: Any, session: Any, **extra: Any) -> web.Response:
    number = place.place
    context = {
        "place": place,
        "session": session,
        "number": None if number is None else number + 1,
        "starts_at": clinic.place_time(session, number or 0),
        "kind_label": clinic.KIND_LABELS[session.kind],
        "booked": False,
        "token": None,
        "problem": None,
        **extra,
    }
    response = render(request, "booking/clinic_place.html", context)
    response.headers.update(TOKEN_HEADERS)
    return response


async def place_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    async with request.app[sessionmaker_key]() as db:
        place, session = await clinic.place_by_token(db, token)
    if session.ends_at <= utcnow():  # the link has served its purpose: it opens nothing now
        raise Gone(clinic.LINK_EXPIRED)
    return _place(request, place, session, token=token)


async def place_cancel(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    try:
        async with transaction(request.app) as db:
            place, session = await clinic.do_cancel_place(db, token)
    except (Conflict, PermissionDenied) as error:  # already cancelled, or begun: say so
        async with request.app[sessionmaker_key]() as db:
            place, session = await clinic.place_by_token(db, token)
        response = _place(request, place, session, token=token, problem=error)
        response.set_status(error.status)
        return response
    return _place(request, place, session, cancelled=True)
