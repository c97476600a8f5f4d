"""desk: triage, dispatch, clocks, alarms, closure, after-care (issue 6)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_org_id", sa.Integer(), nullable=False),
        sa.Column("to_org_id", sa.Integer(), nullable=False),
        sa.Column("to_staff_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_by", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_dispatches_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["from_org_id"],
            ["organizations.id"],
            name=op.f("fk_dispatches_from_org_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_org_id"], ["organizations.id"], name=op.f("fk_dispatches_to_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["to_staff_id"], ["staff_users.id"], name=op.f("fk_dispatches_to_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatches_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatches_to_org_id"), ["to_org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dispatches_to_staff_id"), ["to_staff_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dispatches_ack_due_at"), ["ack_due_at"], unique=False)

    op.create_table(
        "clock_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("paused_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("remaining_seconds", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by", sa.String(length=32), nullable=False),
        sa.Column("resumed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_clock_pauses_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clock_pauses")),
    )
    with op.batch_alter_table("clock_pauses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clock_pauses_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clock_pauses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clock_pauses_case_id"))
    op.drop_table("clock_pauses")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatches_ack_due_at"))
        batch_op.drop_index(batch_op.f("ix_dispatches_to_staff_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_to_org_id"))
        batch_op.drop_index(batch_op.f("ix_dispatches_case_id"))
    op.drop_table("dispatches")
