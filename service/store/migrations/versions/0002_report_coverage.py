"""reports.coverage, reports.coverage_reasons: how complete the newest result is

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coverage", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("coverage_reasons", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_reports_coverage"), ["coverage"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_coverage"))
        batch_op.drop_column("coverage_reasons")
        batch_op.drop_column("coverage")
