"""A mediator's or expert's roster profile: the admin edits every field (for staff of their
organisation or below); a person edits their own bio and languages. The photo is an uploaded
JPEG, PNG or WebP kept in app/storage.py, checked by its content."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import NotFound, ValidationFailed
from app.i18n import N_
from app.models import StaffUser
from app.policy import org_subtree
from app.services import DISPUTE_TYPES
from booking.evidence import sniff
from booking.models import BookingProfile

PROFILE_ROLES = ("mediator", "expert")
SELF_FIELDS = ("bio", "languages")
MAX_LANGUAGES = 8
LANGUAGE_MAX = 32
REGION_MAX = 64
BIO_MAX = 500
MAX_YEARS = 70
PHOTO_MAX_BYTES = 1024 * 1024
NO_SUCH_PERSON = N_("This person does not exist or you may not edit them.")
BAD_SPECIALTY = N_("Please choose kinds of dispute from the list.")
BAD_LANGUAGES = N_("At most 8 languages of at most 32 characters, separated by commas.")
BAD_REGION = N_("At most 64 characters.")
BAD_BIO = N_("At most 500 characters.")
BAD_YEARS = N_("Years of experience must be a whole number from 0 to 70.")
BAD_PHOTO = N_("The photo must be a JPEG, PNG or WebP image of at most 1 MB.")


@dataclass(frozen=True)
class ProfileInput:
    bio: str
    languages: list[str]
    specialties: list[str] | None = None  # None: not the admin's edit, left as it is
    region: str | None = None
    years: int | None = None
    photo: tuple[bytes, str] | None = None  # (data, extension)


async def editable(db: AsyncSession, principal: Principal, staff_id: int) -> tuple[StaffUser, bool]:
    """The person, and whether the principal edits every field (admin) or only their own bio
    and languages; NotFound for anyone else, so ids cannot be probed."""
    principal.require_staff()
    person = await db.get(StaffUser, staff_id)
    if person is None or person.role not in PROFILE_ROLES:
        raise NotFound(NO_SUCH_PERSON)
    if principal.role == "admin":
        assert principal.org_id is not None
        if person.org_id in await org_subtree(db, principal.org_id):
            return person, True
    if person.id == principal.staff_id:
        return person, False
    raise NotFound(NO_SUCH_PERSON)


def split_languages(raw: str) -> list[str]:
    parts = raw.replace("、", ",").replace("，", ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def check_profile(
    data: dict[str, str],
    specialties: list[str],
    photo: bytes | None,
    *,
    full: bool,
) -> ProfileInput:
    errors: dict[str, str] = {}
    bio = data.get("bio", "").strip()
    if len(bio) > BIO_MAX:
        errors["bio"] = BAD_BIO
    languages = split_languages(data.get("languages", ""))
    if len(languages) > MAX_LANGUAGES or any(len(x) > LANGUAGE_MAX for x in languages):
        errors["languages"] = BAD_LANGUAGES
    if not full:
        if errors:
            raise ValidationFailed(errors)
        return ProfileInput(bio, languages)
    if any(s not in DISPUTE_TYPES for s in specialties):
        errors["specialties"] = BAD_SPECIALTY
    region = data.get("region", "").strip()
    if len(region) > REGION_MAX:
        errors["region"] = BAD_REGION
    raw_years = data.get("years", "").strip() or "0"
    years = int(raw_years) if raw_years.isdigit() and len(raw_years) <= 2 else -1
    if not 0 <= years <= MAX_YEARS:
        errors["years"] = BAD_YEARS
    kind = sniff(photo) if photo else None
    if photo and (kind is None or kind[0] == "application/pdf" or len(photo) > PHOTO_MAX_BYTES):
        errors["photo"] = BAD_PHOTO
    if errors:
        raise ValidationFailed(errors)
    checked_photo = (photo, kind[1]) if photo and kind else None
    return ProfileInput(bio, languages, sorted(set(specialties)), region, years, checked_photo)


async def do_save_profile(
    db: AsyncSession, person: StaffUser, change: ProfileInput, photo_key: str | None
) -> BookingProfile:
    profile = await db.get(BookingProfile, person.id)
    if profile is None:
        profile = BookingProfile(staff_id=person.id, specialties=[], languages=[])
        db.add(profile)
    profile.bio, profile.languages = change.bio, change.languages
    if change.specialties is not None:
        profile.specialties = change.specialties
    if change.region is not None:
        profile.region = change.region
    if change.years is not None:
        profile.years = change.years
    if photo_key is not None:
        profile.photo_key = photo_key
    return profile
