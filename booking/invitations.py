"""Invitations: a fresh capability link per party, sent by SMS; the plaintext token exists only
in the SMS and in the one response that shows it to the coordinator (only its hash is stored)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import issue_party_link, revoke_party_access
from app.db import dialect_of, transaction, utcnow
from app.i18n import N_, format_datetime, translate
from app.jobs import register
from app.models import Case, IdempotencyRecord, Organization, Party, PartyLink, StaffUser
from app.notify import SMS_LOCALE, Attachment, send_email, send_sms
from app.revocation import Revoked
from app.services import parties_of
from app.settings import Settings, settings_key
from booking import ics
from booking.ics import Attendee, CalendarEntry
from booking.models import Appointment, AppointmentMember, BookingProfile


@dataclass(frozen=True)
class Invitation:
    party: Party
    url: str

    def qr_svg(self) -> str:
        """The link as an inline SVG QR code (no style attributes: the CSP forbids them)."""
        code = segno.make(self.url, error="m")
        return str(code.svg_inline(scale=4, border=2, light="#fff", title=self.party.name))


@dataclass(frozen=True)
class LinkStatus:
    party: Party
    active: int
    latest_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None


async def _new_link(db: AsyncSession, settings: Settings, party: Party) -> str:
    token = await issue_party_link(db, party.id, settings.party_link_days)
    return f"{settings.base_url}/p/{token}"


async def org_name(db: AsyncSession, case: Case) -> str:
    org = await db.get(Organization, case.org_id)
    return org.name if org else ""


async def _send_links(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    parties: list[Party],
    message: str,
    **params: object,
) -> list[Invitation]:
    """A new link per party, texted with `message` ({org}, {number}, {link} and `params`)."""
    org = await org_name(db, case)
    invitations = []
    for party in parties:
        url = await _new_link(db, settings, party)
        body = translate(
            message, SMS_LOCALE, org=org, number=case.number or case.id, link=url, **params
        )
        await send_sms(db, party.phone, body, case.id)
        invitations.append(Invitation(party, url))
    return invitations


async def invite_to_appointment(
    db: AsyncSession,
    settings: Settings,
    case: Case,
    parties: list[Party],
    starts_at: datetime,
    mediator_name: str,
) -> list[Invitation]:
    """A new link per party (earlier links keep working), texted with the appointment."""
    when = format_datetime(starts_at, SMS_LOCALE)
    return await _send_links(
        db, settings, case, parties, BOOKED_SMS, time=when, mediator=mediator_name
    )


async def reissue(
    db: AsyncSession, settings: Settings, case: Case, parties: list[Party]
) -> tuple[list[Invitation], Revoked]:
    """Revokes the parties' links and every session opened with them, then sends new links
    (announce the Revoked after commit, so open room sockets close too)."""
    revoked = await revoke_party_access(db, [party.id for party in parties])
    sent = await _send_links(
        db,
        settings,
        case,
        parties,
        N_("[{org}] Your new link for case {number}: {link} . Earlier links no longer work."),
    )
    return sent, revoked


async def link_status(db: AsyncSession, parties: list[Party]) -> list[LinkStatus]:
    """Each party's links at a glance, in one statement whatever the number of parties."""
    now = utcnow()
    links: dict[int, list[PartyLink]] = {party.id: [] for party in parties}
    for link in await db.scalars(
        select(PartyLink)
        .where(PartyLink.party_id.in_(links))
        .order_by(PartyLink.created_at.desc(), PartyLink.id.desc())
    ):
        links[link.party_id].append(link)
    found = []
    for party in parties:
        own = links[party.id]
        live = [link for link in own if link.revoked_at is None and link.expires_at > now]
        found.append(
            LinkStatus(
                party=party,
                active=len(live),
                latest_at=own[0].created_at if own else None,
                expires_at=live[0].expires_at if live else None,
                last_used_at=max(
                    (link.last_used_at for link in own if link.last_used_at), default=None
                ),
            )
        )
    return found


# --- the outbox job of a booking change: links, SMS, emails with the ICS file ---------------

BOOKED_SMS = N_(
    "[{org}] Your mediation (case {number}) is on {time} with mediator {mediator}. "
    "Open {link} on your phone to join; no app is needed."
)
MOVED_SMS = N_(
    "[{org}] Your mediation (case {number}) has moved to {time}. "
    "Join with the link from our earlier SMS."
)
CANCELLED_SMS = N_(
    "Case {number}: the mediation on {time} is cancelled. "
    "The mediation centre will contact you about a new time."
)
EMAIL_SUBJECTS = {
    "booked": N_("Mediation appointment: case {number}, {time}"),
    "moved": N_("Mediation appointment moved: case {number}, {time}"),
    "cancelled": N_("Mediation appointment cancelled: case {number}, {time}"),
}


@dataclass(frozen=True)
class Notice:
    appointment: Appointment
    case: Case
    members: list[tuple[StaffUser, str | None]]  # person, email


async def notice_of(db: AsyncSession, appointment_id: int) -> Notice | None:
    appointment = await db.get(Appointment, appointment_id)
    case = await db.get(Case, appointment.case_id) if appointment else None
    if appointment is None or case is None:
        return None
    rows = await db.execute(
        select(StaffUser, BookingProfile.email)
        .join(AppointmentMember, AppointmentMember.staff_id == StaffUser.id)
        .outerjoin(BookingProfile, BookingProfile.staff_id == StaffUser.id)
        .where(AppointmentMember.appointment_id == appointment_id)
        .order_by(AppointmentMember.role.desc(), StaffUser.id)
    )
    return Notice(appointment, case, [(person, email) for person, email in rows])


def calendar_file(settings: Settings, notice: Notice, org: str) -> bytes:
    appointment, case = notice.appointment, notice.case
    names = "、".join(person.display_name for person, _ in notice.members)
    entry = CalendarEntry(
        appointment_id=appointment.id,
        sequence=appointment.sequence,
        cancelled=appointment.status == "cancelled",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=translate("Mediation: case {number}", SMS_LOCALE, number=case.number or case.id),
        description=names,
        location=f"{settings.base_url}/cases/{case.id}",
        attendees=tuple(Attendee(p.display_name, email) for p, email in notice.members),
    )
    return ics.render(
        entry, base_url=settings.base_url, organiser=settings.smtp_from, stamp=utcnow()
    )


async def _email_members(db: AsyncSession, settings: Settings, notice: Notice, change: str) -> None:
    org = await org_name(db, notice.case)
    content = calendar_file(settings, notice, org).decode()
    method = "CANCEL" if notice.appointment.status == "cancelled" else "REQUEST"
    attachment = Attachment("invite.ics", f"text/calendar; method={method}; charset=utf-8", content)
    params = {
        "number": notice.case.number or notice.case.id,
        "time": format_datetime(notice.appointment.starts_at, SMS_LOCALE),
    }
    subject = translate(EMAIL_SUBJECTS[change], SMS_LOCALE, **params)
    for person, email in notice.members:
        if email:
            body = f"{org}\n{subject}\n{person.display_name}"
            await send_email(db, email, subject, body, notice.case.id, (attachment,))


async def send_notice(app: web.Application, payload: dict[str, Any]) -> None:
    """Runs after the change committed. A notice overtaken by a later change (another
    sequence) is dropped: that change has its own notice."""
    settings = app[settings_key]
    async with transaction(app) as db:
        notice = await notice_of(db, payload["appointment_id"])
        if notice is None or notice.appointment.sequence != payload["sequence"]:
            return
        # At least once: a second run of this job (its worker died after commit) must not
        # issue a second set of links.
        if not await first_run(db, f"notice:{notice.appointment.id}:{payload['sequence']}"):
            return
        change, case = payload["change"], notice.case
        when = format_datetime(notice.appointment.starts_at, SMS_LOCALE)
        parties = await parties_of(db, case.id)
        if change == "booked":
            mediator = notice.members[0][0].display_name if notice.members else ""
            await invite_to_appointment(
                db, settings, case, parties, notice.appointment.starts_at, mediator
            )
        else:
            org = await org_name(db, case)
            message = MOVED_SMS if change == "moved" else CANCELLED_SMS
            body = translate(message, SMS_LOCALE, org=org, number=case.number or case.id, time=when)
            for party in parties:
                await send_sms(db, party.phone, body, case.id)
        await _email_members(db, settings, notice, change)


async def first_run(db: AsyncSession, key: str) -> bool:
    """True the first time `key` is seen (a row in the idempotency table, kind "job")."""
    inserted = await db.execute(
        _insert_for(db)(IdempotencyRecord)
        .values(
            principal="job",
            key=key,
            request_hash="",
            status=200,
            body={},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


def _insert_for(db: AsyncSession) -> Any:
    return postgresql.insert if dialect_of(db) == "postgresql" else sqlite.insert


def setup(app: web.Application) -> None:
    register(app, "appointment_notice", send_notice)
