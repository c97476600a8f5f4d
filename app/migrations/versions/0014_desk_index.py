"""the desk's covering index on cases: the dashboard reads its page and its counts from the index
alone (issue 6's performance targets); it replaces the plain index on org_id

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_desk", "cases", ["org_id", "status", "deadline_at", "risk", "id"], unique=False
    )
    op.drop_index("ix_cases_org_id", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_org_id", "cases", ["org_id"], unique=False)
    op.drop_index("ix_cases_desk", table_name="cases")
