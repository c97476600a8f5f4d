"""a duty session of the appointment clinic claims its person's time like an appointment, so a
mediation booking can never overlap it (issue 7); future sessions already planned take their
cells where they are still free

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL = timedelta(minutes=30)


def upgrade() -> None:
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.alter_column("appointment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("duty_session_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_slot_claims_duty_session_id_duty_sessions"),
            "duty_sessions",
            ["duty_session_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            batch_op.f("ix_slot_claims_duty_session_id"), ["duty_session_id"], unique=False
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_slot_claims_one_holder"),
            "(appointment_id IS NULL) <> (duty_session_id IS NULL)",
        )
    _claim_planned_sessions()


def _claim_planned_sessions() -> None:
    """Cells of sessions still to come, skipping any an appointment already holds (the plan
    made before this revision stays; the coordinator sees the overlap on the calendar)."""
    moment = app.db.UTCDateTime()
    sessions = sa.table(
        "duty_sessions",
        sa.column("id", sa.Integer),
        sa.column("staff_id", sa.Integer),
        sa.column("starts_at", moment),
        sa.column("ends_at", moment),
    )
    claims = sa.table(
        "slot_claims",
        sa.column("staff_id", sa.Integer),
        sa.column("cell_start", moment),
        sa.column("duty_session_id", sa.Integer),
    )
    bind = op.get_bind()
    planned = bind.execute(
        sa.select(
            sessions.c.id, sessions.c.staff_id, sessions.c.starts_at, sessions.c.ends_at
        ).where(sessions.c.ends_at > datetime.now(UTC))
    ).all()
    if not planned:
        return
    taken = set(bind.execute(sa.select(claims.c.staff_id, claims.c.cell_start)).all())
    rows = []
    for session_id, staff_id, cell, end in planned:
        while cell < end:
            if (staff_id, cell) not in taken:
                taken.add((staff_id, cell))
                rows.append(
                    {"staff_id": staff_id, "cell_start": cell, "duty_session_id": session_id}
                )
            cell += CELL
    if rows:
        bind.execute(sa.insert(claims), rows)


def downgrade() -> None:
    op.execute("DELETE FROM slot_claims WHERE duty_session_id IS NOT NULL")
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_slot_claims_one_holder"), type_="check")
        batch_op.drop_index(batch_op.f("ix_slot_claims_duty_session_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_slot_claims_duty_session_id_duty_sessions"), type_="foreignkey"
        )
        batch_op.drop_column("duty_session_id")
        batch_op.alter_column("appointment_id", existing_type=sa.Integer(), nullable=False)
