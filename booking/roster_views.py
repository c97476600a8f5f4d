"""The public roster (挂号): a phone-first page, its JSON twin, and the mediators' photos."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from sqlalchemy import select

from app.db import sessionmaker_key
from app.errors import NotFound, ValidationFailed
from app.forms import parse_id
from app.i18n import N_
from app.models import Organization, StaffUser
from app.rendering import render
from app.services import DISPUTE_TYPES
from app.settings import settings_key
from app.storage import storage_key
from booking.models import BookingProfile
from booking.roster import FILTER_MAX, MAX_PAGE_SIZE, PAGE_SIZE, Filters, entry_json, roster

BAD_TYPE = N_("Please choose a kind of dispute from the list.")
BAD_ORG = N_("Please choose an organisation from the list.")
BAD_PAGE = N_("The page must be a whole number from 1 to 1000.")
BAD_SIZE = N_("The page size must be a whole number from 1 to 50.")
TOO_LONG = N_("At most 64 characters.")
NO_PHOTO = N_("This mediator has no photo.")
PHOTO_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def _number(raw: str | None, low: int, high: int, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    value = int(raw) if raw.isdigit() and len(raw) <= 4 else None
    return value if value is not None and low <= value <= high else None


def check_filters(query: Mapping[str, str]) -> Filters:
    """The roster's filters from a query string; ValidationFailed names every bad one."""
    errors: dict[str, str] = {}
    raw_org = query.get("org", "")
    org_id = parse_id(raw_org) if raw_org else None
    if raw_org and org_id is None:
        errors["org"] = BAD_ORG
    dispute_type = query.get("type", "")
    if dispute_type and dispute_type not in DISPUTE_TYPES:
        errors["type"] = BAD_TYPE
    texts = {name: query.get(name, "").strip() for name in ("region", "language")}
    errors.update({name: TOO_LONG for name, text in texts.items() if len(text) > FILTER_MAX})
    page = _number(query.get("page"), 1, 1000, 1)
    size = _number(query.get("size"), 1, MAX_PAGE_SIZE, PAGE_SIZE)
    if page is None:
        errors["page"] = BAD_PAGE
    if size is None:
        errors["size"] = BAD_SIZE
    if errors:
        raise ValidationFailed(errors)
    assert page is not None and size is not None
    return Filters(org_id, dispute_type, texts["region"], texts["language"], page, size)


async def roster_page(request: web.Request) -> web.Response:
    errors: dict[str, str] = {}
    try:
        filters = check_filters(request.query)
    except ValidationFailed as failed:
        errors, filters = failed.fields, Filters()
    async with request.app[sessionmaker_key]() as db:
        page = await roster(db, filters, days=request.app[settings_key].roster_days)
        orgs = (
            await db.scalars(
                select(Organization)
                .where(Organization.kind == "mediation")
                .order_by(Organization.id)
            )
        ).all()
    return render(
        request,
        "booking/roster.html",
        {
            "page": page,
            "orgs": orgs,
            "values": dict(request.query),
            "errors": errors,
            "dispute_types": DISPUTE_TYPES,
        },
        status=422 if errors else 200,
    )


async def roster_api(request: web.Request) -> web.Response:
    filters = check_filters(request.query)
    async with request.app[sessionmaker_key]() as db:
        page = await roster(db, filters, days=request.app[settings_key].roster_days)
    return web.json_response(
        {
            "mediators": [entry_json(entry) for entry in page.entries],
            "page": filters.page,
            "size": filters.size,
            "has_next": page.has_next,
        }
    )


async def photo(request: web.Request) -> web.Response:
    """A mediator's roster photo; only active mediators' photos are public."""
    staff_id = parse_id(request.match_info["staff_id"])
    async with request.app[sessionmaker_key]() as db:
        key = await db.scalar(
            select(BookingProfile.photo_key)
            .join(StaffUser, StaffUser.id == BookingProfile.staff_id)
            .where(
                BookingProfile.staff_id == (staff_id or 0),
                StaffUser.role == "mediator",
                StaffUser.active.is_(True),
            )
        )
    if key is None:
        raise NotFound(NO_PHOTO)
    data = await request.app[storage_key].get(key)
    content_type = PHOTO_TYPES.get(key[key.rfind(".") :], "application/octet-stream")
    return web.Response(
        body=data, content_type=content_type, headers={"Cache-Control": "public, max-age=300"}
    )
