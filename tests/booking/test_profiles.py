"""Roster profiles: the admin edits every field and the photo, a mediator only their own bio and
languages, nobody else's; bad input re-shows the form in two languages and stores nothing."""

from __future__ import annotations

from aiohttp import FormData

from app.db import sessionmaker_key
from booking.models import BookingProfile
from tests.people import csrf, login

JPEG = b"\xff\xd8\xff\xe0" + b"1" * 200


async def _post(client, path: str, fields: dict[str, object], photo: bytes | None = None):
    form = FormData()
    form.add_field("_csrf", await csrf(client, path))
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            form.add_field(name, str(item))
    if photo is not None:
        form.add_field("photo", photo, filename="me.jpg", content_type="image/jpeg")
    return await client.post(path, data=form, allow_redirects=False)


async def _profile(app, staff_id: int) -> BookingProfile | None:
    async with app[sessionmaker_key]() as db:
        return await db.get(BookingProfile, staff_id)


async def test_the_admin_edits_every_field_and_the_photo(app, client, demo):
    mediator = demo["user:mediator"]
    await login(client, "admin")
    fields = {
        "bio": "退休法官，擅长邻里纠纷。",
        "languages": "普通话、河南话",
        "specialties": ["neighbour", "family"],
        "region": "吴江区松陵街道",
        "years": "25",
    }
    response = await _post(client, f"/staff/{mediator}/profile", fields, JPEG)
    assert response.status == 303, await response.text()
    profile = await _profile(app, mediator)
    assert profile.languages == ["普通话", "河南话"] and profile.years == 25
    assert sorted(profile.specialties) == ["family", "neighbour"]
    roster = await (await client.get("/api/v1/roster", params={"language": "河南话"})).json()
    (entry,) = roster["mediators"]
    assert entry["photo"] == f"/roster/{mediator}/photo"
    assert await (await client.get(entry["photo"])).read() == JPEG


async def test_a_mediator_edits_only_their_own_bio_and_languages(app, client, demo):
    mediator, other = demo["user:mediator"], demo["user:mediator2"]
    await login(client, "mediator")
    page = await client.get(f"/staff/{mediator}/profile")
    assert page.status == 200 and 'name="specialties"' not in await page.text()
    fields = {"bio": "你好", "languages": "普通话", "specialties": "labour", "years": "9"}
    assert (await _post(client, f"/staff/{mediator}/profile", fields)).status == 303
    profile = await _profile(app, mediator)
    assert profile.bio == "你好" and profile.specialties == [] and profile.years == 0
    assert (await client.get(f"/staff/{other}/profile")).status == 404
    assert (await _post(client, f"/staff/{other}/profile", fields)).status == 404


async def test_bad_input_reshows_the_form_and_stores_nothing(app, client, demo):
    mediator = demo["user:mediator"]
    await login(client, "admin")
    fields = {"bio": "x" * 501, "specialties": "nonsense", "years": "200", "languages": "a"}
    response = await _post(client, f"/staff/{mediator}/profile", fields, b"GIF89a....")
    assert response.status == 422
    html = await response.text()
    for name in ("bio", "specialties", "years", "photo"):
        assert f'id="{name}-error"' in html
    assert "x" * 501 in html  # the form keeps what was typed
    assert await _profile(app, mediator) is None
