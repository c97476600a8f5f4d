"""the parties' joint application for judicial confirmation (司法确认申请书), its signatures and
declines, the filing's reference to it with the competent court's basis, and each mediation
organisation's basic court (issue 10)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-23 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _signer_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=32), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        *columns,
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["joint_applications.id"],
            name=op.f(f"fk_{name}_application_id_joint_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(
            "application_id", "signer", name=op.f(f"uq_{name}_application_id_signer")
        ),
    )
    op.create_index(op.f(f"ix_{name}_application_id"), name, ["application_id"], unique=False)


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("court_org_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_court_org_id_organizations"),
            "organizations",
            ["court_org_id"],
            ["id"],
        )
    op.create_table(
        "joint_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("court_org_id", sa.Integer(), nullable=False),
        sa.Column("court_basis", sa.String(length=16), nullable=False),
        sa.Column("court_reason", sa.Text(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("sealed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_joint_applications_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_joint_applications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["court_org_id"],
            ["organizations.id"],
            name=op.f("fk_joint_applications_court_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_applications")),
        sa.UniqueConstraint("sha256", name=op.f("uq_joint_applications_sha256")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_joint_applications_storage_key")),
    )
    op.create_index(
        op.f("ix_joint_applications_case_id"), "joint_applications", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_joint_applications_agreement_id"),
        "joint_applications",
        ["agreement_id"],
        unique=False,
    )
    _signer_table(
        "application_signatures",
        sa.Column("image_png", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    _signer_table(
        "application_declines",
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declined_at", app.db.UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("court_basis", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("court_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_court_filings_application_id_joint_applications"),
            "joint_applications",
            ["application_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("court_filings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_court_filings_application_id_joint_applications"), type_="foreignkey"
        )
        batch_op.drop_column("court_reason")
        batch_op.drop_column("court_basis")
        batch_op.drop_column("application_id")
    for name in ("application_declines", "application_signatures"):
        op.drop_index(op.f(f"ix_{name}_application_id"), table_name=name)
        op.drop_table(name)
    op.drop_index(op.f("ix_joint_applications_agreement_id"), table_name="joint_applications")
    op.drop_index(op.f("ix_joint_applications_case_id"), table_name="joint_applications")
    op.drop_table("joint_applications")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organizations_court_org_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_column("court_org_id")
