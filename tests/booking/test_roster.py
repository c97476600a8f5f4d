"""The public roster (挂号): filters, ratings, next free time, photos, no phones, bad filters in
two languages, and the same statements for a page of 3 as for a page of 40."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.db import transaction
from app.models import Party, StaffUser
from app.storage import storage_key
from booking.models import AvailabilityRule, BookingProfile, Rating
from booking.slots import local_today
from tests.booking.test_desk import statements


async def _mediators(app, org_id: int, count: int, **profile) -> list[int]:
    """`count` mediators with a profile, free every day 09:00–12:00."""
    async with transaction(app) as db:
        people = [
            StaffUser(
                org_id=org_id,
                username=f"r{org_id}-{profile.get('region', '')}-{i}-{count}",
                display_name=f"名册{i:02d}",
                role="mediator",
                password_hash="x",
                phone="13912345678",
            )
            for i in range(count)
        ]
        db.add_all(people)
        await db.flush()
        for person in people:
            db.add(BookingProfile(staff_id=person.id, **profile))
            db.add_all(
                AvailabilityRule(staff_id=person.id, weekday=w, start_minute=540, end_minute=720)
                for w in range(7)
            )
    return [p.id for p in people]


async def test_filters_by_type_language_and_region(app, client, demo):
    henan = await _mediators(
        app,
        demo["org:town"],
        2,
        specialties=["labour"],
        languages=["普通话", "河南话"],
        region="吴江区松陵街道",
    )
    other = await _mediators(
        app,
        demo["org:village"],
        1,
        specialties=["neighbour"],
        languages=["普通话"],
        region="苏州市",
    )
    response = await client.get("/api/v1/roster", params={"language": "河南话"})
    assert response.status == 200
    assert [m["id"] for m in (await response.json())["mediators"]] == henan

    response = await client.get("/api/v1/roster", params={"type": "neighbour"})
    assert [m["id"] for m in (await response.json())["mediators"]] == other
    response = await client.get("/api/v1/roster", params={"region": "吴江区"})
    assert [m["id"] for m in (await response.json())["mediators"]] == henan
    response = await client.get("/api/v1/roster", params={"org": demo["org:village"]})
    listed = [m["id"] for m in (await response.json())["mediators"]]
    assert other[0] in listed and not set(henan) & set(listed)


async def test_an_entry_shows_rating_and_next_free_time_but_no_phone(app, client, demo):
    (person,) = await _mediators(app, demo["org:town"], 1, specialties=["labour"], years=12)
    async with transaction(app) as db:
        party_id = (await db.scalars(select(Rating.party_id))).first()
        assert party_id is None  # no ratings in the demo yet
        party = (await db.scalars(select(Party).where(Party.case_id == demo["case"]))).first()
        db.add(
            Rating(
                case_id=demo["case"],
                party_id=party.id,
                mediator_id=person,
                attitude=5,
                procedure=4,
                result=3,
            )
        )
    response = await client.get("/api/v1/roster", params={"type": "labour"})
    (entry,) = (await response.json())["mediators"]
    assert entry["rating"] == {"count": 1, "attitude": 5.0, "procedure": 4.0, "result": 3.0}
    assert entry["years"] == 12 and entry["photo"] is None and entry["initials"] == "名"
    today = local_today()
    free_day = date.fromisoformat(entry["next_free"][:10])
    assert today <= free_day <= today + timedelta(days=1)
    assert entry["apply"] == f"/apply?mediator={person}"
    body = await response.text()
    assert "13912345678" not in body and "phone" not in body

    page = await client.get("/roster", params={"type": "labour"})
    html = await page.text()
    assert page.status == 200 and "名册00" in html and "13912345678" not in html
    assert f'href="/apply?mediator={person}"' in html


async def test_a_photo_is_served_from_storage(app, client, demo):
    (person,) = await _mediators(app, demo["org:town"], 1)
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 100
    await app[storage_key].put(f"roster/{person}/photo.jpg", jpeg)
    async with transaction(app) as db:
        profile = await db.get(BookingProfile, person)
        profile.photo_key = f"roster/{person}/photo.jpg"
    response = await client.get(f"/roster/{person}/photo")
    assert response.status == 200 and response.content_type == "image/jpeg"
    assert await response.read() == jpeg
    assert (await client.get(f"/roster/{demo['user:coordinator']}/photo")).status == 404


async def test_bad_filters_are_refused_in_two_languages(app, client, demo):
    response = await client.get("/api/v1/roster", params={"type": "nonsense", "page": "0"})
    assert response.status == 422
    fields = (await response.json())["fields"]
    assert set(fields) == {"type", "page"}
    assert fields["type"]["zh_CN"] and fields["type"]["en"]
    page = await client.get("/roster", params={"size": "999", "region": "x" * 65})
    assert page.status == 422
    html = await page.text()
    assert 'id="size-error"' in html and 'id="region-error"' in html


async def test_a_page_costs_the_same_statements_whatever_its_size(app, client, demo):
    await _mediators(app, demo["org:town"], 40, specialties=["labour"])
    counts = []
    for size in (3, 40):
        with statements(app) as seen:
            response = await client.get("/api/v1/roster", params={"type": "labour", "size": size})
        assert response.status == 200
        assert len((await response.json())["mediators"]) == size
        counts.append(len(seen))
    # one for the people, one for the ratings, two for the slot search (the profiles, and
    # rules, exceptions, windows and claims as one UNION ALL; SQLite took five until issue-7h)
    assert counts[0] == counts[1] == 4, counts
