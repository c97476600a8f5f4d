"""closure, after-care, ratings, admin (issue 6)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=24), nullable=True))
        batch_op.add_column(
            sa.Column("outcome_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("outcome_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )

    op.create_table(
        "deadline_settings",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deadline_settings")),
    )

    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("due_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("alarm_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_followups_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint("case_id", name=op.f("uq_followups_case_id")),
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followups_alarm_at"), ["alarm_at"], unique=False)

    op.create_table(
        "performance_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(length=500), nullable=False),
        sa.Column("debtor", sa.String(length=64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("alarm_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("marked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("marked_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_performance_items_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_items")),
    )
    with op.batch_alter_table("performance_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_performance_items_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_performance_items_alarm_at"), ["alarm_at"], unique=False
        )

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("mediator_id", sa.Integer(), nullable=True),
        sa.Column("attitude", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.Integer(), nullable=False),
        sa.Column("result", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_ratings_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["mediator_id"], ["staff_users.id"], name=op.f("fk_ratings_mediator_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_ratings_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("party_id", name=op.f("uq_ratings_party_id")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ratings_mediator_id"),
            ["mediator_id", "attitude", "procedure", "result"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_mediator_id"))
        batch_op.drop_index(batch_op.f("ix_ratings_case_id"))
    op.drop_table("ratings")
    with op.batch_alter_table("performance_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_performance_items_alarm_at"))
        batch_op.drop_index(batch_op.f("ix_performance_items_case_id"))
    op.drop_table("performance_items")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followups_alarm_at"))
    op.drop_table("followups")
    op.drop_table("deadline_settings")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("outcome_note")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome")
