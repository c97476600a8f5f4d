"""court systems: per-court API tokens, webhook endpoints, and the organisation a job works for
(dead letters of webhook deliveries shown to that organisation's admins) (issue 10)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "court_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_court_tokens_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_court_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_court_tokens_token_hash")),
    )
    op.create_index(op.f("ix_court_tokens_org_id"), "court_tokens", ["org_id"], unique=False)
    op.create_table(
        "court_webhooks",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_sealed", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_court_webhooks_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_court_webhooks")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_org_id"), ["org_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_org_id_organizations"), "organizations", ["org_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jobs_org_id_organizations"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_jobs_org_id"))
        batch_op.drop_column("org_id")
    op.drop_table("court_webhooks")
    op.drop_index(op.f("ix_court_tokens_org_id"), table_name="court_tokens")
    op.drop_table("court_tokens")
