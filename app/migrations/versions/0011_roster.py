"""roster: a photo and a short bio on the booking profile (issue 7, part 2)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking_profiles") as batch:
        batch.add_column(sa.Column("photo_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("bio", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("booking_profiles") as batch:
        batch.drop_column("bio")
        batch.drop_column("photo_key")
