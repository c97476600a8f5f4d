"""The public roster (挂号就诊): an organisation's mediators as a party sees them when choosing
one (People's Mediation Law art. 19, 23). A page costs the same statements whatever its size:
one for the people (profile and organisation joined, filters in SQL), one for the ratings,
five for everyone's next free time (booking/search.py). No phone, no ID: only what a roster
shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_of, utcnow
from app.models import Organization, StaffUser
from app.policy import subtree_query
from booking.aftercare import RatingSummary, mediator_ratings
from booking.models import BookingProfile
from booking.search import earliest_each
from booking.slots import DEFAULT_MINUTES

PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
FILTER_MAX = 64


@dataclass(frozen=True)
class Filters:
    org_id: int | None = None  # the organisation and everything below it
    dispute_type: str = ""
    region: str = ""  # a prefix: 吴江区 finds 吴江区松陵镇 (addresses go largest unit first)
    language: str = ""
    page: int = 1
    size: int = PAGE_SIZE


@dataclass(frozen=True)
class Entry:
    id: int
    name: str
    org_id: int
    org_name: str
    specialties: list[str]
    languages: list[str]
    region: str
    years: int
    bio: str
    has_photo: bool
    rating: RatingSummary | None
    next_free: datetime | None

    @property
    def initials(self) -> str:
        return self.name[:1]


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    filters: Filters
    has_next: bool


def json_has(db: AsyncSession, column: Any, value: str) -> Any:
    """`value` is an element of the JSON array in `column`, in SQL on both databases."""
    if dialect_of(db) == "postgresql":
        return cast(column, JSONB).contains(cast(literal([value], JSONB), JSONB))
    element = func.json_each(column).table_valued("value")
    return exists(select(1).select_from(element).where(element.c.value == value))


def mediators_query(db: AsyncSession, filters: Filters) -> Select[Any]:
    """Active mediators with their profile and organisation, filtered, one page (+1 to tell
    whether another page follows)."""
    query = (
        select(StaffUser.id, StaffUser.display_name, StaffUser.org_id, Organization.name)
        .add_columns(
            BookingProfile.specialties,
            BookingProfile.languages,
            BookingProfile.region,
            BookingProfile.years,
            BookingProfile.bio,
            BookingProfile.photo_key,
        )
        .join(Organization, Organization.id == StaffUser.org_id)
        .outerjoin(BookingProfile, BookingProfile.staff_id == StaffUser.id)
        .where(StaffUser.role == "mediator", StaffUser.active.is_(True))
    )
    if filters.org_id is not None:
        query = query.where(StaffUser.org_id.in_(subtree_query(filters.org_id)))
    if filters.dispute_type:
        query = query.where(json_has(db, BookingProfile.specialties, filters.dispute_type))
    if filters.language:
        query = query.where(json_has(db, BookingProfile.languages, filters.language))
    if filters.region:
        query = query.where(
            func.substr(BookingProfile.region, 1, len(filters.region))
            == cast(filters.region, String)
        )
    return (
        query.order_by(StaffUser.display_name, StaffUser.id)
        .offset((filters.page - 1) * filters.size)
        .limit(filters.size + 1)
    )


async def roster(
    db: AsyncSession, filters: Filters, *, days: int, now: datetime | None = None
) -> Page:
    now = now or utcnow()
    rows = (await db.execute(mediators_query(db, filters))).all()
    has_next = len(rows) > filters.size
    rows = rows[: filters.size]
    ids = [row[0] for row in rows]
    ratings = await mediator_ratings(db, ids)
    free = await earliest_each(
        db, ids, start=now, end=now + timedelta(days=days), minutes=DEFAULT_MINUTES, now=now
    )
    entries = [
        Entry(
            id=row[0],
            name=row[1],
            org_id=row[2],
            org_name=row[3],
            specialties=list(row.specialties or []),
            languages=list(row.languages or []),
            region=row.region or "",
            years=row.years or 0,
            bio=row.bio or "",
            has_photo=row.photo_key is not None,
            rating=ratings.get(row[0]),
            next_free=free.get(row[0]),
        )
        for row in rows
    ]
    return Page(entries, filters, has_next)


def entry_json(entry: Entry) -> dict[str, Any]:
    rating = entry.rating
    return {
        "id": entry.id,
        "name": entry.name,
        "org": {"id": entry.org_id, "name": entry.org_name},
        "specialties": entry.specialties,
        "languages": entry.languages,
        "region": entry.region,
        "years": entry.years,
        "bio": entry.bio,
        "photo": f"/roster/{entry.id}/photo" if entry.has_photo else None,
        "initials": entry.initials,
        "rating": None
        if rating is None
        else {
            "count": rating.count,
            "attitude": rating.attitude,
            "procedure": rating.procedure,
            "result": rating.result,
        },
        "next_free": entry.next_free.isoformat() if entry.next_free else None,
        "apply": f"/apply?mediator={entry.id}",
    }
