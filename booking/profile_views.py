"""The roster profile page: /staff/{id}/profile (admin: every field; oneself: bio, languages)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from app.auth import current
from app.db import sessionmaker_key, transaction
from app.errors import NotFound, ValidationFailed
from app.forms import form_dict, parse_id
from app.rendering import render
from app.services import DISPUTE_TYPES
from app.storage import storage_key
from booking.models import BookingProfile
from booking.profiles import (
    NO_SUCH_PERSON,
    PHOTO_MAX_BYTES,
    check_profile,
    do_save_profile,
    editable,
)


def _staff_id(request: web.Request) -> int:
    staff_id = parse_id(request.match_info["staff_id"])
    if staff_id is None:
        raise NotFound(NO_SUCH_PERSON)
    return staff_id


def _values(profile: BookingProfile | None) -> dict[str, str]:
    if profile is None:
        return {}
    return {
        "bio": profile.bio,
        "languages": "、".join(profile.languages or []),
        "region": profile.region,
        "years": str(profile.years),
    }


def _page(request: web.Request, context: dict[str, object], status: int = 200) -> web.Response:
    return render(
        request,
        "booking/profile.html",
        {**context, "dispute_types": DISPUTE_TYPES, "photo_mb": PHOTO_MAX_BYTES // (1024 * 1024)},
        status=status,
    )


async def profile_form(request: web.Request) -> web.Response:
    principal = current(request)
    async with request.app[sessionmaker_key]() as db:
        person, full = await editable(db, principal, _staff_id(request))
        profile = await db.get(BookingProfile, person.id)
    chosen = list(profile.specialties or []) if profile else []
    context = {"person": person, "full": full, "values": _values(profile), "chosen": chosen}
    return _page(request, {**context, "errors": {}, "saved": "saved" in request.query})


async def profile_submit(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    staff_id = _staff_id(request)
    form = await request.post()
    data = form_dict(form)
    specialties = [s for s in form.getall("specialties", []) if isinstance(s, str)]
    field = form.get("photo")
    photo = field.file.read() if isinstance(field, web.FileField) else None
    async with transaction(request.app) as db:
        person, full = await editable(db, principal, staff_id)
        try:
            change = check_profile(data, specialties, photo or None, full=full)
        except ValidationFailed as failed:
            context = {"person": person, "full": full, "values": data, "chosen": specialties}
            return _page(request, {**context, "errors": failed.fields, "saved": False}, 422)
        key = None
        if change.photo is not None:
            data_, extension = change.photo
            key = f"roster/{person.id}/{hashlib.sha256(data_).hexdigest()[:20]}{extension}"
            await request.app[storage_key].put(key, data_)
        await do_save_profile(db, person, change, key)
    raise web.HTTPSeeOther(f"/staff/{staff_id}/profile?saved=1")
