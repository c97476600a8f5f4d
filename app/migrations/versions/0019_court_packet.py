"""the packet that goes to the court with a filing: one row per version, filled once by the
assembly job (issue 10)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "court_packets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("assembled_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["filing_id"],
            ["court_filings.id"],
            name=op.f("fk_court_packets_filing_id_court_filings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_court_packets")),
        sa.UniqueConstraint(
            "filing_id", "version", name=op.f("uq_court_packets_filing_id_version")
        ),
        sa.UniqueConstraint("sha256", name=op.f("uq_court_packets_sha256")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_court_packets_storage_key")),
    )
    op.create_index(
        op.f("ix_court_packets_filing_id"), "court_packets", ["filing_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_court_packets_filing_id"), table_name="court_packets")
    op.drop_table("court_packets")
