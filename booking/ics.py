"""Calendar files (RFC 5545 / iTIP RFC 5546) for appointments: METHOD:REQUEST while booked, with
a UID that never changes and a SEQUENCE bumped on every change, METHOD:CANCEL once cancelled, and
the Asia/Shanghai VTIMEZONE so calendars show the local time whatever their own zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from app.i18n import SHANGHAI

PRODID = "-//mediation-room//booking//ZH"


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str | None


@dataclass(frozen=True)
class CalendarEntry:
    appointment_id: int
    sequence: int
    cancelled: bool
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str
    attendees: tuple[Attendee, ...] = ()


def uid(appointment_id: int, base_url: str) -> str:
    """Stable for the appointment's whole life: calendars update the event, never add one."""
    return f"appointment-{appointment_id}@{urlsplit(base_url).hostname or 'mediation'}"


def _address(email: str, organiser: str) -> vCalAddress:
    return vCalAddress(f"mailto:{email or organiser}")


def render(entry: CalendarEntry, *, base_url: str, organiser: str, stamp: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if entry.cancelled else "REQUEST")
    calendar.add_component(Timezone.from_tzid("Asia/Shanghai"))
    event = Event()
    event.add("uid", uid(entry.appointment_id, base_url))
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", entry.starts_at.astimezone(SHANGHAI))
    event.add("dtend", entry.ends_at.astimezone(SHANGHAI))
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    event.add("location", entry.location)
    event.add("status", "CANCELLED" if entry.cancelled else "CONFIRMED")
    event.add("organizer", _address(organiser, organiser))
    for person in entry.attendees:
        if person.email is None:
            continue
        address = _address(person.email, organiser)
        address.params["cn"] = vText(person.name)
        event.add("attendee", address)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
