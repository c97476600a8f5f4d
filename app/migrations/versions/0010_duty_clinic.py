"""duty clinic sessions and places, the daily maximum's per-person-per-day counter (issue 7)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:30:00
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _staff_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["staff_id"], ["staff_users.id"], name=op.f(f"fk_{table}_staff_id_staff_users")
    )


def upgrade() -> None:
    op.create_table(
        "staff_days",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        _staff_fk("staff_days"),
        sa.PrimaryKeyConstraint("staff_id", "day", name=op.f("pk_staff_days")),
    )
    op.create_table(
        "duty_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("starts_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("place_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "booked >= 0 AND booked <= capacity", name=op.f("ck_duty_sessions_places")
        ),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_duty_sessions_capacity")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_duty_sessions_org_id_organizations")
        ),
        _staff_fk("duty_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_sessions")),
    )
    with op.batch_alter_table("duty_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_sessions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_sessions_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_sessions_starts_at"), ["starts_at"], unique=False)
    op.create_table(
        "duty_places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phone_code_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("place >= 0", name=op.f("ck_duty_places_place")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["duty_sessions.id"],
            name=op.f("fk_duty_places_session_id_duty_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["phone_code_id"],
            ["phone_codes.id"],
            name=op.f("fk_duty_places_phone_code_id_phone_codes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_places")),
        sa.UniqueConstraint("session_id", "place", name=op.f("uq_duty_places_session_id_place")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_duty_places_token_hash")),
    )
    with op.batch_alter_table("duty_places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_places_session_id"), ["session_id"], unique=False)
    _count_days()


def _count_days() -> None:
    """The counter for appointments already booked: by each person's local day of the start."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT m.staff_id, a.starts_at, p.timezone FROM appointments a "
            "JOIN appointment_members m ON m.appointment_id = a.id "
            "LEFT JOIN booking_profiles p ON p.staff_id = m.staff_id "
            "WHERE a.status IN ('booked', 'no_show')"
        ).columns(
            sa.column("staff_id", sa.Integer),
            sa.column("starts_at", app.db.UTCDateTime(timezone=True)),
            sa.column("timezone", sa.String),
        )
    ).all()
    counts: dict[tuple[int, object], int] = {}
    for staff_id, starts_at, zone in rows:
        day = starts_at.astimezone(ZoneInfo(zone or "Asia/Shanghai")).date()
        counts[(staff_id, day)] = counts.get((staff_id, day), 0) + 1
    if counts:
        table = sa.table(
            "staff_days", sa.column("staff_id"), sa.column("day", sa.Date), sa.column("booked")
        )
        op.bulk_insert(
            table,
            [{"staff_id": s, "day": d, "booked": n} for (s, d), n in counts.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("duty_places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_places_session_id"))
    op.drop_table("duty_places")
    with op.batch_alter_table("duty_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_sessions_starts_at"))
        batch_op.drop_index(batch_op.f("ix_duty_sessions_staff_id"))
        batch_op.drop_index(batch_op.f("ix_duty_sessions_org_id"))
    op.drop_table("duty_sessions")
    op.drop_table("staff_days")
