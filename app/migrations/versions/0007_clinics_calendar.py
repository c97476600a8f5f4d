"""clinics and calendar: roster, availability, duty slots, panels (issue 7)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The existing `availability` rows stay as they are: one-off windows, read beside the weekly
# rules by the slot search (booking/search.py).


def _staff_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["staff_id"], ["staff_users.id"], name=op.f(f"fk_{table}_staff_id_staff_users")
    )


def upgrade() -> None:
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        _staff_fk("availability_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    with op.batch_alter_table("availability_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_rules_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        _staff_fk("availability_exceptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    with op.batch_alter_table("availability_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_exceptions_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "booking_profiles",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("daily_max", sa.Integer(), nullable=True),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=128), nullable=True),
        _staff_fk("booking_profiles"),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_booking_profiles")),
    )

    op.create_table(
        "appointment_members",
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_members_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        _staff_fk("appointment_members"),
        sa.PrimaryKeyConstraint("appointment_id", "staff_id", name=op.f("pk_appointment_members")),
    )
    with op.batch_alter_table("appointment_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_members_staff_id"), ["staff_id"], unique=False
        )

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("changed_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("changed_by", sa.String(length=32), nullable=True))
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column("sequence", server_default=None)
    # Every existing appointment claims its mediator: make that explicit.
    op.execute(
        "INSERT INTO appointment_members (appointment_id, staff_id, role) "
        "SELECT id, staff_id, 'mediator' FROM appointments"
    )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("changed_by")
        batch_op.drop_column("changed_at")
        batch_op.drop_column("sequence")
    with op.batch_alter_table("appointment_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_members_staff_id"))
    op.drop_table("appointment_members")
    op.drop_table("booking_profiles")
    with op.batch_alter_table("availability_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_exceptions_staff_id"))
    op.drop_table("availability_exceptions")
    with op.batch_alter_table("availability_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_rules_staff_id"))
    op.drop_table("availability_rules")
