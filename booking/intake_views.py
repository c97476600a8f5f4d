"""The application form (/apply): the public's online application with an SMS-verified phone,
and the front desk's walk-in and grid-worker applications, which skip the SMS check.

The form works without JavaScript: "send the code", "add a party" and "add an agent" are submit
buttons that return the same form, filled in, with one more block or a code on its way."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import idempotency
from app.auth import SESSION_COOKIE, Principal, current, open_session
from app.db import sessionmaker_key
from app.errors import Conflict, TooManyRequests, UserError, ValidationFailed
from app.forms import form_dict, parse_id
from app.i18n import N_
from app.idempotency import Action
from app.identity import normalize_phone
from app.models import Organization, StaffUser
from app.policy import org_subtree
from app.rendering import render
from app.security import CSRF_FIELD
from app.settings import settings_key
from app.tokens import new_token
from booking.group_members import decode_list
from booking.intake import (
    AUTHORITIES,
    DISPUTE_TYPES,
    MAX_AGENTS,
    MAX_PER_SIDE,
    PUBLIC_CHANNELS,
    SIDES,
    STAFF_CHANNELS,
    ApplicationInput,
    agent_count,
    check_application,
    do_send_receipt,
    do_submit_application,
    first_applicant,
    party_count,
    slot,
)
from booking.phone_codes import apply_subject, development_code, send_code, verify
from booking.views import NO_STORE

INTAKE_ROLES = ("coordinator", "mediator")  # and admin: they file walk-in and grid applications
ENTER_CODE = N_("Please enter the 6-digit code we sent to the applicant's phone.")
NOT_YOUR_ORG = N_("You may only file applications with your organisation or below it.")
CODE_SENT = N_("We sent a 6-digit code to {phone}. Enter it below, then send the application.")


def is_desk(principal: Principal) -> bool:
    """Staff file walk-in and grid applications; anyone else applies online."""
    if principal.kind != "staff":
        return False
    principal.require_staff(*INTAKE_ROLES)
    return True


async def _preferred_mediator(db: AsyncSession, raw: str | None) -> StaffUser | None:
    staff_id = parse_id(raw)
    person = await db.get(StaffUser, staff_id) if staff_id else None
    return person if person and person.active and person.role == "mediator" else None


async def _apply_page(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    notice: tuple[str, dict[str, str]] | None = None,
    development_code: str | None = None,
) -> web.Response:
    desk = is_desk(current(request))
    async with request.app[sessionmaker_key]() as db:
        orgs = list(
            await db.scalars(
                select(Organization)
                .where(Organization.kind == "mediation")
                .order_by(Organization.id)
            )
        )
        mediator = await _preferred_mediator(db, values.get("preferred_mediator_id"))
    sides = {role: [slot(role, i) for i in range(party_count(values, role))] for role in SIDES}
    context: dict[str, Any] = {
        "orgs": orgs,
        "dispute_types": DISPUTE_TYPES,
        "values": values,
        "errors": errors,
        "sides": sides,
        "slots": sides["applicant"] + sides["respondent"],
        "agents": range(1, agent_count(values) + 1),
        "authorities": AUTHORITIES,
        "desk": desk,
        "channels": STAFF_CHANNELS if desk else PUBLIC_CHANNELS,
        "mediator": mediator,
        "notice": notice,
        "development_code": development_code,
        "can_add": {role: len(sides[role]) < MAX_PER_SIDE for role in SIDES},
        "can_add_agent": agent_count(values) < MAX_AGENTS,
    }
    return render(request, "booking/apply.html", context, status=status)


async def apply_form(request: web.Request) -> web.StreamResponse:
    values = {"submission_id": new_token()}
    if request.query.get("mediator"):
        values["preferred_mediator_id"] = request.query["mediator"][:12]
    return await _apply_page(request, values, {})


async def _form(request: web.Request) -> dict[str, str]:
    """The posted fields; an uploaded member list is appended to the pasted one."""
    posted = await request.post()
    data = form_dict(posted)
    data["org_id"] = data["org_id"] if parse_id(data.get("org_id")) else ""
    upload = posted.get("group_file")
    if isinstance(upload, web.FileField):
        with upload.file:
            text = decode_list(upload.file.read())
        if text.strip():
            data["group_members"] = "\n".join(filter(None, (data.get("group_members"), text)))
    return data


def _grown(data: dict[str, str], action: str) -> dict[str, str]:
    """The form with one more party or agent block."""
    if action in ("add_applicant", "add_respondent"):
        role = action.removeprefix("add_")
        return {**data, f"{role}s": str(min(party_count(data, role) + 1, MAX_PER_SIDE))}
    return {**data, "agents": str(min(agent_count(data) + 1, MAX_AGENTS))}


async def _send_apply_code(request: web.Request, data: dict[str, str]) -> web.Response:
    phone = normalize_phone(data.get("applicant_phone", ""))
    if phone is None:
        error = N_("Please enter an 11-digit mainland mobile number.")
        return await _apply_page(request, data, {"applicant_phone": error}, status=422)
    try:
        await send_code(request, "apply", apply_subject(phone), phone)
    except TooManyRequests as error:
        response = await _apply_page(request, data, {"phone_code": error.message}, status=429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    masked = phone[:3] + "****" + phone[-4:]
    code = await development_code(request, phone)
    return await _apply_page(
        request, data, {}, notice=(CODE_SENT, {"phone": masked}), development_code=code
    )


async def apply_submit(request: web.Request) -> web.StreamResponse:
    try:
        data = await _form(request)
    except UserError as error:
        return await _apply_page(request, {}, {"group_members": error.message}, status=422)
    action = data.get("action", "submit")
    if action == "send_code":
        return await _send_apply_code(request, data)
    if action in ("add_applicant", "add_respondent", "add_agent"):
        return await _apply_page(request, _grown(data, action), {})
    return await _submit(request, data)


async def _within_own_tree(db: AsyncSession, principal: Principal, org_id: int) -> None:
    assert principal.org_id is not None  # staff always belong to an organisation
    if org_id not in await org_subtree(db, principal.org_id):
        raise ValidationFailed({"org_id": NOT_YOUR_ORG})


async def _check_phone(
    request: web.Request, db: AsyncSession, application: ApplicationInput, code: str
) -> None:
    if not code.strip():
        raise ValidationFailed({"phone_code": ENTER_CODE})
    phone = application.parties[0].phone  # the first applicant's, the one the code went to
    await verify(request, db, "apply", apply_subject(phone), code)


def filing(
    request: web.Request, form: dict[str, str], desk: bool, sessions: list[str] | None = None
) -> Action:
    """The application as one transaction: validate; the desk files within its own tree, the
    public proves the phone by its SMS code; write; text the receipt. With `sessions`, the
    online applicant also gets a party session (appended), to add evidence at once."""
    principal, settings = current(request), request.app[settings_key]

    async def action(db: AsyncSession) -> tuple[int, dict[str, Any]]:
        channels = STAFF_CHANNELS if desk else PUBLIC_CHANNELS
        application = await check_application(db, form, channels=channels)
        if desk:
            await _within_own_tree(db, principal, application.org_id)
        else:
            await _check_phone(request, db, application, form.get("phone_code", ""))
        actor = principal.key if desk else "public"
        case = await do_submit_application(db, settings, application, actor=actor)
        await do_send_receipt(db, settings, case)
        if sessions is not None and not desk:
            party = await first_applicant(db, case.id)
            hours = settings.session_hours
            sessions.append(await open_session(db, kind="party", party_id=party.id, hours=hours))
        return 201, {
            "id": case.id,
            "status": case.status,
            "org_id": case.org_id,
            "dispute_type": case.dispute_type,
            "channel": case.channel,
            "receipt": case.receipt,
            "parties": len(application.parties),
            "group_members": len(application.group_members),
        }

    return action


def public_owner(form: dict[str, str]) -> str:
    """Whose idempotency keys a public application's are: its applicant phone's (the browser
    gets a party session with the first answer, so its principal changes on a resubmission)."""
    return f"apply:{normalize_phone(form.get('applicant_phone', '')) or '-'}"


async def _once(
    request: web.Request, data: dict[str, str], owner: str, action: Action
) -> idempotency.StoredResponse:
    """Runs the form's action once per `submission_id` (a double tap on a phone sends it twice)."""
    key = data.get("submission_id") or None
    key = key if key and len(key) <= idempotency.MAX_KEY_LENGTH else None
    payload = {k: v for k, v in sorted(data.items()) if k not in (CSRF_FIELD, "submission_id")}
    request_hash = idempotency.fingerprint(request.method, request.path, payload)
    try:
        return await idempotency.run(request.app, owner, key, request_hash, action)
    except idempotency.IdempotencyKeyReused:
        # The person went back and sent the old form with new content: a new request.
        return await idempotency.run(request.app, owner, None, request_hash, action)


async def _submit(request: web.Request, data: dict[str, str]) -> web.StreamResponse:
    desk = is_desk(current(request))
    sessions: list[str] = []
    try:
        owner = current(request).key if desk else public_owner(data)
        stored = await _once(request, data, owner, filing(request, data, desk, sessions))
    except ValidationFailed as error:
        return await _apply_page(request, data, error.fields, status=422)
    except (UserError, Conflict) as error:  # the SMS code: wrong, expired, used or locked
        return await _apply_page(request, data, {"phone_code": error.message}, status=422)
    context = {"case_id": stored.body["id"], "receipt": stored.body["receipt"], "desk": desk}
    response = render(request, "booking/apply_done.html", context)
    response.headers.update(NO_STORE)
    if sessions and not stored.replayed:
        _set_session_cookie(request, response, sessions[0])
    return response


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    # The same cookie a party's capability link sets (app/views.py), for this browser only.
    settings = request.app[settings_key]
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=settings.https,
        max_age=settings.session_hours * 3600,
    )
