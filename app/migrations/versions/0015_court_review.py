"""the court's side of judicial confirmation: pre-review (accepted with the court's case number,
not accepted, supplement requested), the 15-day clock and its extension, the judge's ruling,
withdrawal by the parties; an agreement may be filed again after a filing was not accepted or
withdrawn (issue 10)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status NOT IN ('not_accepted', 'withdrawn')"
TIMES = ("reviewed_at", "resubmitted_at", "accepted_at", "ruling_due_at", "extended_at")
WHO = ("reviewed_by", "extended_by", "withdrawn_by")


def upgrade() -> None:
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("court_case_number", sa.String(length=40), nullable=True))
        for name in WHO:
            batch_op.add_column(sa.Column(name, sa.String(length=32), nullable=True))
        for name in TIMES:
            batch_op.add_column(sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("withdrawn_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("extension_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("withdrawal_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("extension_approved_by", sa.String(length=64), nullable=True))
        batch_op.drop_constraint("uq_court_filings_agreement_id", type_="unique")
        batch_op.drop_index("ix_court_filings_court_org_id")
        batch_op.create_unique_constraint(
            batch_op.f("uq_court_filings_court_org_id_court_case_number"),
            ["court_org_id", "court_case_number"],
        )
    op.create_index(
        "ix_court_filings_live_agreement",
        "court_filings",
        ["agreement_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        "ix_court_filings_queue", "court_filings", ["court_org_id", "status", "ruling_due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_court_filings_queue", table_name="court_filings")
    op.drop_index("ix_court_filings_live_agreement", table_name="court_filings")
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_court_filings_court_org_id_court_case_number"), type_="unique"
        )
        batch_op.create_index("ix_court_filings_court_org_id", ["court_org_id"], unique=False)
        batch_op.create_unique_constraint("uq_court_filings_agreement_id", ["agreement_id"])
        for name in (
            "court_case_number",
            *WHO,
            *TIMES,
            "withdrawn_at",
            "review_note",
            "extension_note",
            "withdrawal_note",
            "extension_approved_by",
        ):
            batch_op.drop_column(name)
