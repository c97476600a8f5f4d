"""Kernel pages: home, login/logout, language, party link redemption, case page, outbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from app import auth, services
from app.db import sessionmaker_key, transaction
from app.errors import NotFound
from app.factory_keys import executor_key
from app.i18n import LOCALES
from app.middleware import LANG_COOKIE
from app.models import Message, Organization
from app.panels import build_panels
from app.policy import load_case
from app.rendering import render
from app.settings import settings_key


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
        async with request.app[sessionmaker_key]() as db:
            cases = await services.cases_for(db, principal)
        return render(request, "app/dashboard.html", {"cases": cases})
    return render(request, "app/landing.html")


async def login_form(request: web.Request) -> web.StreamResponse:
    return render(
        request, "app/login.html", {"next": _safe_next(request.query.get("next")), "failed": False}
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    async with transaction(request.app) as db:
        user = await auth.authenticate_staff(db, username, password, request.app[executor_key])
        if user is None:
            return render(request, "app/login.html", {"next": next_url, "failed": True}, status=401)
        token = await auth.open_session(
            db, kind="staff", staff_id=user.id, hours=request.app[settings_key].session_hours
        )
    response = web.HTTPSeeOther(next_url)
    _set_session_cookie(request, response, token)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    if principal.session_id is not None:
        async with transaction(request.app) as db:
            await auth.revoke_session(db, principal.session_id)
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
    async with transaction(request.app) as db:
        party = await auth.redeem_party_link(db, request.match_info["token"])
        token = await auth.open_session(
            db, kind="party", party_id=party.id, hours=settings.session_hours
        )
        case_id = party.case_id
    response = web.HTTPSeeOther(f"/cases/{case_id}")
    response.headers["Referrer-Policy"] = "no-referrer"
    _set_session_cookie(request, response, token)
    raise response


async def case_page(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    if principal.kind == "anonymous":
        raise web.HTTPSeeOther(f"/login?next={request.path}")
    case_id = int(request.match_info["case_id"])
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, case_id)
        org = await db.get(Organization, case.org_id)
        parties = await services.parties_of(db, case.id)
        events = await services.timeline(db, case.id, public_only=principal.kind == "party")
        panels = await build_panels(request, db, principal, case)
    return render(
        request,
        "app/case.html",
        {
            "case": case,
            "org": org,
            "parties": parties,
            "events": events,
            "panels": panels,
        },
    )


async def outbox(request: web.Request) -> web.StreamResponse:
    principal = auth.current(request)
    principal.require_staff("admin", "coordinator")
    async with request.app[sessionmaker_key]() as db:
        messages = list(await db.scalars(select(Message).order_by(Message.id.desc()).limit(200)))
    return render(request, "app/outbox.html", {"messages": messages})


async def healthz(request: web.Request) -> web.StreamResponse:
    async with request.app[sessionmaker_key]() as db:
        await db.execute(select(1))
    return web.json_response({"status": "ok"})
