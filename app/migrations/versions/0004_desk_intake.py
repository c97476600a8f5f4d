"""intake: channels, parties, phone verification, evidence, progress lookup (issue 6)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_preferred_mediator() -> None:
    fk = op.f("fk_cases_preferred_mediator_id_staff_users")
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN … REFERENCES keeps the table; a named constraint would rebuild it.
        op.execute(
            "ALTER TABLE cases ADD COLUMN preferred_mediator_id INTEGER "
            f"CONSTRAINT {fk} REFERENCES staff_users (id)"
        )
        return
    op.add_column("cases", sa.Column("preferred_mediator_id", sa.Integer(), nullable=True))
    op.create_foreign_key(fk, "cases", "staff_users", ["preferred_mediator_id"], ["id"])


def upgrade() -> None:
    # Only ADD COLUMN and CREATE INDEX on `parties` and `cases`: SQLite would otherwise rebuild
    # them (copy, DROP, rename), and dropping a table that other rows reference fails while
    # foreign keys are enforced. Existing parties become persons; existing cases came online.
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="person", nullable=False)
        )
        batch_op.add_column(sa.Column("credit_code", sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column("representative", sa.String(length=64), nullable=True))

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), server_default="online", nullable=False)
        )
        batch_op.add_column(sa.Column("receipt", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_receipt"), ["receipt"], unique=True)
    _add_preferred_mediator()

    op.create_table(
        "party_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("authority", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_party_agents_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_agents")),
    )
    with op.batch_alter_table("party_agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_party_agents_party_id"), ["party_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_group_members_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_group_members_case_id_position")),
    )

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("uploader", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_evidence_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_evidence_storage_key")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_case_id"))
    op.drop_table("evidence")
    op.drop_table("group_members")
    with op.batch_alter_table("party_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_party_agents_party_id"))
    op.drop_table("party_agents")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_receipt"))
        batch_op.drop_column("preferred_mediator_id")
        batch_op.drop_column("receipt")
        batch_op.drop_column("channel")
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.drop_column("representative")
        batch_op.drop_column("credit_code")
        batch_op.drop_column("kind")
