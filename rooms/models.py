"""Durable room state: who is in the lobby, who is admitted, which sub-room they are in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | locked | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when a host ended the session: the room stays closed; the next appointment opens another.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RoomMember(Base):
    __tablename__ = "room_members"
    __table_args__ = (UniqueConstraint("room_id", "principal"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    principal: Mapped[str] = mapped_column(String(32))  # staff:3 | party:7
    role: Mapped[str] = mapped_column(String(16))  # mediator | party | expert
    display_name: Mapped[str] = mapped_column(String(64))
    admission: Mapped[str] = mapped_column(String(16), default="waiting")  # or admitted, removed
    subroom: Mapped[str] = mapped_column(String(32), default="main")
    # The browser session that was admitted: another session (a new link, another phone) of the
    # same party knocks again instead of walking in.
    web_session_id: Mapped[int | None] = mapped_column(ForeignKey("web_sessions.id"))
    # The member's own media state as its client last reported it (policy.Live.stored()).
    live: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # to recording; None: none
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
