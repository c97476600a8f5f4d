"""The mediator's drafting page: the structured form, its live preview (HTML only, nothing
stored) and the comparison of two saved versions (for staff and parties alike)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal, current
from app.db import sessionmaker_key, transaction
from app.errors import ValidationFailed
from app.factory_keys import executor_key
from app.forms import form_dict
from app.i18n import gettext
from app.models import Case, Party
from app.policy import load_case
from app.rendering import render
from app.services import parties_of
from documents import performance, services, versions
from documents.drafting import AUTHORITIES, SEXES, TERM_ROWS, Draft, read_draft
from documents.parties import agents_of
from documents.pdf import body_html
from documents.sealed import content_doc

PREVIEW_HASH = "0" * 64
_TERM_ROW = re.compile(r"term-([0-9]{1,2})-")


def _case_id(request: web.Request) -> int:
    return int(request.match_info["case_id"])


async def _page_context(
    db: AsyncSession, case: Case, form: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    parties = await parties_of(db, case.id)
    rows = 1 + max((int(m[1]) for k in form if (m := _TERM_ROW.match(k))), default=0)
    return {
        "case": case,
        "form": form,
        "errors": errors,
        "parties": parties,
        "term_rows": min(TERM_ROWS, max(rows + 1, 3)),
        "max_rows": TERM_ROWS,
        "sexes": SEXES,
        "authorities": AUTHORITIES,
    }


def _form_from(content: dict[str, Any]) -> dict[str, str]:
    """A saved version back into the form's fields (older plain drafts: free clauses only)."""
    details = content.get("term_details", [])
    form = {
        name: str(content.get(name) or "")
        for name in ("facts", "disputes", "responsibility", "performance", "performance_deadline")
    }
    form["terms"] = "\n".join(content["terms"][len(details) :])
    for i, (text, detail) in enumerate(zip(content["terms"], details, strict=False)):
        form[f"term-{i}-text"] = text
        for name in ("amount", "payer", "payee", "deadline", "manner"):
            form[f"term-{i}-{name}"] = "" if detail.get(name) is None else str(detail[name])
    for party in content["parties"]:
        _party_fields(form, party["id"], party)
    return form


def _party_fields(form: dict[str, str], party_id: int, party: dict[str, Any]) -> None:
    agent = party.get("agent") or {}
    prefix = f"party-{party_id}-"
    for name in ("sex", "ethnicity", "birth_date", "occupation", "address"):
        form[prefix + name] = str(party.get(name) or "")
    form[prefix + "agent_name"] = str(agent.get("name") or "")
    form[prefix + "agent_authority"] = str(agent.get("authority") or "")


async def _new_form(db: AsyncSession, parties: list[Party]) -> dict[str, str]:
    """A first draft starts from what the case holds: addresses and agents."""
    agents = await agents_of(db, [p.id for p in parties])
    form: dict[str, str] = {}
    for p in parties:
        agent = agents.get(p.id)
        _party_fields(
            form,
            p.id,
            {
                "address": p.address,
                "agent": {"name": agent.name, "authority": agent.authority} if agent else None,
            },
        )
    return form


async def draft_form(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, _case_id(request))
        services.require_mediator(principal, case)
        agreement = await services.current_agreement(db, case.id)
        if agreement is not None:
            form = _form_from(agreement.content)
        else:
            form = await _new_form(db, await parties_of(db, case.id))
        context = await _page_context(db, case, form, {})
    return render(request, "documents/draft.html", context)


async def draft(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    form = form_dict(await request.post())
    case_id = _case_id(request)
    try:
        async with transaction(request.app) as db:
            case = await load_case(db, principal, case_id)
            await services.do_draft(db, principal, case, services.check_draft(form))
    except ValidationFailed as failed:
        async with request.app[sessionmaker_key]() as db:
            case = await load_case(db, principal, case_id)
            context = await _page_context(db, case, form, failed.fields)
        return render(request, "documents/draft.html", context, status=422)
    raise web.HTTPSeeOther(f"/cases/{case_id}#agreement")


def _within_case(draft: Draft, party_ids: set[int]) -> Draft:
    """For the preview only: payers, payees and details of unknown parties are left out."""

    def known(value: int | None) -> int | None:
        return value if value in party_ids else None

    terms = tuple(
        dataclasses.replace(t, payer=known(t.payer), payee=known(t.payee)) for t in draft.structured
    )
    parties = {k: v for k, v in draft.parties.items() if k in party_ids}
    return dataclasses.replace(draft, structured=terms, parties=parties)


async def preview(request: web.Request) -> web.StreamResponse:
    """JSON {html, errors}: the body as the PDF prints it, for the form as typed. Reads the
    case; writes nothing (no version, no event)."""
    principal = current(request)
    form = form_dict(await request.post())
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, _case_id(request))
        services.require_mediator(principal, case)
        draft, errors = read_draft(form)
        ids = {p.id for p in await parties_of(db, case.id)}
        content = await services.draft_content(db, case, _within_case(draft, ids), 0)
    doc = content_doc(content, 0, PREVIEW_HASH, "", {})
    loop = asyncio.get_running_loop()
    html = await loop.run_in_executor(request.app[executor_key], body_html, doc)
    messages = {name: gettext(message) for name, message in errors.items()}
    return web.json_response(
        {"html": html, "errors": messages}, headers={"Cache-Control": "no-store"}
    )


async def compare(request: web.Request) -> web.StreamResponse:
    """Two saved versions side by side, clause by clause (?from=1&to=2; default: the last two)."""
    principal: Principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        case = await load_case(db, principal, _case_id(request))
        listed = await versions.versions_of(db, case.id)
    old, new = versions.pick(listed, request.query.get("from"), request.query.get("to"))
    changes = versions.compare(old.content, new.content) if old and new else []
    return render(
        request,
        "documents/versions.html",
        {"case": case, "versions": listed, "old": old, "new": new, "changes": changes},
    )


async def derive_items(request: web.Request) -> web.StreamResponse:
    """The mediator turns the effective agreement's dated terms into after-care items."""
    principal = current(request)
    async with transaction(request.app) as db:
        case = await load_case(db, principal, _case_id(request))
        await performance.do_derive_items(db, principal, case)
    raise web.HTTPSeeOther(f"/cases/{case.id}#aftercare")
