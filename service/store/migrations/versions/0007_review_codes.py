"""cells.codes: each flagged cell's review reasons as stable codes with parameters (the queue and the statistics read
them instead of parsing the English text back); reports.only_explained: the newest version's only flags are layout
deviations the report explains (the reviewer's batch approval)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cells") as batch:
        batch.add_column(sa.Column("codes", sa.JSON(), nullable=True))
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("only_explained", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("only_explained")
    with op.batch_alter_table("cells") as batch:
        batch.drop_column("codes")
