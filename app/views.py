"""Kernel pages: home, login/logout, language, party link redemption, case page, outbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from app import auth, services
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, TooManyRequests
from app.factory_keys import executor_key
from app.forms import clean
from app.i18n import LOCALES, N_
from app.middleware import LANG_COOKIE
from app.models import Case, Message, Organization
from app.notify import outbox_keeps_links
from app.panels import FormFailure, build_panels, form_failure_rkey
from app.policy import load_case, subtree_query
from app.rendering import render
from app.revocation import announce_revoked
from app.settings import settings_key
from app.throttle import Limit, account_key, client_address, throttle_key
from app.tokens import redact_party_links

NO_STORE = {"Cache-Control": "private, no-store"}
TOO_MANY_LOGINS = N_(
    "Too many failed logins. Please wait {minutes} minutes and try again, or ask your "
    "administrator."
)
TOO_MANY_LINKS = N_(
    "Too many links that did not work were opened from your network. Please wait {minutes} "
    "minutes, then open the link from your latest SMS."
)


def _safe_next(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = request.app[settings_key]
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=settings.https,
        max_age=settings.session_hours * 3600,
    )


async def home(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    if principal.kind == "party":
        raise web.HTTPSeeOther(f"/cases/{principal.case_id}")
    if principal.kind == "staff":
        # The working lists are the desks (booking/desk_views.py); home links to them.
        return render(request, "app/dashboard.html", {})
    return render(request, "app/landing.html")


async def login_form(request: web.Request) -> web.StreamResponse:
    return render(
        request, "app/login.html", {"next": _safe_next(request.query.get("next")), "failed": False}
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    # The name is cleaned (a NUL byte cannot reach the database); the password is taken as typed.
    username, password = clean(form.get("username", "")), str(form.get("password", ""))
    next_url = _safe_next(clean(form.get("next", "/")))
    settings = request.app[settings_key]
    try:
        give_back = await request.app[throttle_key].attempt(
            Limit(f"login:account:{account_key(username)}", settings.login_failures_per_account),
            Limit(f"login:client:{client_address(request)}", settings.login_failures_per_client),
            message=TOO_MANY_LOGINS,
        )
    except TooManyRequests as refused:
        context = {"next": next_url, "failed": False, "refused": refused}
        response = render(request, "app/login.html", context, status=429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    async with transaction(request.app) as db:
        user = await auth.authenticate_staff(db, username, password, request.app[executor_key])
        if user is None:
            return render(request, "app/login.html", {"next": next_url, "failed": True}, status=401)
        token = await auth.open_session(
            db, kind="staff", staff_id=user.id, hours=settings.session_hours
        )
    await give_back()  # only failures count against the limits
    response = web.HTTPSeeOther(next_url)
    _set_session_cookie(request, response, token)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    async with transaction(request.app) as db:
        revoked = await auth.revoke_session(db, principal)
    await announce_revoked(request.app, revoked)
    response = web.HTTPSeeOther("/")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response


async def set_language(request: web.Request) -> web.StreamResponse:
    locale = request.match_info["locale"]
    if locale not in LOCALES:
        raise NotFound("The page you asked for does not exist.")
    response = web.HTTPSeeOther(_safe_next(request.query.get("next")))
    response.set_cookie(
        LANG_COOKIE,
        locale,
        samesite="Lax",
        path="/",
        max_age=365 * 86400,
        secure=request.app[settings_key].https,
    )
    raise response


async def redeem_link(request: web.Request) -> web.StreamResponse:
    """Exchanges a capability link for a party session, then drops the token from the URL."""
    settings = request.app[settings_key]
    give_back = await request.app[throttle_key].attempt(
        Limit(f"link:client:{client_address(request)}", settings.link_failures_per_client),
        message=TOO_MANY_LINKS,
    )
    async with transaction(request.app) as db:
        party, link = await auth.redeem_party_link(db, request.match_info["token"])
        token = await auth.open_session(
            db, kind="party", party_id=party.id, link_id=link.id, hours=settings.session_hours
        )
        case_id = party.case_id
    await give_back()  # a valid link is not a guess
    response = web.HTTPSeeOther(f"/cases/{case_id}")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.update(NO_STORE)
    _set_session_cookie(request, response, token)
    raise response


async def case_page(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    if principal.kind == "anonymous":
        raise web.HTTPSeeOther(f"/login?next={request.path}")
    return await render_case_page(request, int(request.match_info["case_id"]))


async def render_case_page(
    request: web.Request, case_id: int, failed: FormFailure | None = None
) -> web.StreamResponse:
    """The case page; after a refused form post, again with that form's message and values
    (its panel finds them as `failed`), answered with the error's status."""
    principal = auth.current(request)
    if failed is not None:
        request[form_failure_rkey] = failed
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        org = await db.get(Organization, case.org_id)
        parties = await services.parties_of(db, case.id)
        events = await services.timeline(db, case.id, public_only=principal.kind == "party")
        panels = await build_panels(request, db, principal, case)
    context = {
        "case": case,
        "org": org,
        "parties": parties,
        "events": events,
        "panels": panels,
        "failed": failed,
    }
    return render(request, "app/case.html", context, status=failed.status if failed else 200)


async def outbox(request: web.Request) -> web.StreamResponse:
    """The development SMS backend's messages about the viewer's organisations' cases only."""
    principal = auth.current(request)
    principal.require_staff("admin", "coordinator")
    assert principal.org_id is not None  # staff always belong to an organisation
    async with request.app[sessionmaker_key]() as db:
        messages = list(
            await db.scalars(
                select(Message)
                .join(Case, Case.id == Message.case_id)
                .where(Case.org_id.in_(subtree_query(principal.org_id)))
                .order_by(Message.id.desc())
                .limit(200)
            )
        )
    # Rows stored under another setting (or before links were redacted) are redacted here too.
    show_links = outbox_keeps_links(request.app[settings_key])
    shown = [(m, m.body if show_links else redact_party_links(m.body)) for m in messages]
    response = render(request, "app/outbox.html", {"messages": shown})
    response.headers.update(NO_STORE)
    return response
