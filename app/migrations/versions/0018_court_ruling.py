"""the court's ruling (民事裁定书) sealed and stored with its hash on the filing, and the
parties' receipts of its electronic service (电子送达) (issue 10)

Revision ID: 0018
Revises: 0015
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ruling_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ruling_storage_key", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("ruling_sealed_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_court_filings_ruling_sha256"), ["ruling_sha256"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_court_filings_ruling_storage_key"), ["ruling_storage_key"]
        )
    op.create_table(
        "service_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filing_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["filing_id"],
            ["court_filings.id"],
            name=op.f("fk_service_receipts_filing_id_court_filings"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_service_receipts_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_receipts")),
        sa.UniqueConstraint(
            "filing_id", "party_id", name=op.f("uq_service_receipts_filing_id_party_id")
        ),
    )
    op.create_index(
        op.f("ix_service_receipts_filing_id"), "service_receipts", ["filing_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_receipts_filing_id"), table_name="service_receipts")
    op.drop_table("service_receipts")
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_court_filings_ruling_storage_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_court_filings_ruling_sha256"), type_="unique")
        batch_op.drop_column("ruling_sealed_at")
        batch_op.drop_column("ruling_storage_key")
        batch_op.drop_column("ruling_sha256")
