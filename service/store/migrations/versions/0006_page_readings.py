"""page_readings: the pages of a long scan read one at a time by a cluster's actors (each a blob: the page as the OCR
stage left it), joined into the document by the actor that reads the document; kept per (content, pipeline version),
so a run started again does not read them again

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_readings",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pipeline_version", sa.String(length=32), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "pipeline_version", "page"),
    )


def downgrade() -> None:
    op.drop_table("page_readings")
