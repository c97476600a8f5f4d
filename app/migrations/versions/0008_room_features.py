"""room: chat, recording consent, room opening (issue 8)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended_at", app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("recording", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("live", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("consent_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("room_members", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
        batch_op.drop_column("live")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_column("recording")
        batch_op.drop_column("ended_at")
