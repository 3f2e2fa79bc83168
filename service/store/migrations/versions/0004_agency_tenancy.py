"""Per-agency tenancy: tokens.agencies (a token bound to agencies), reports.agency_key (the extracted agency as
tokens are bound to it), report_uploads (the agencies a report was uploaded for)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def agency_key(name: str) -> str:
    """crud.agency_key as it is at this revision (a migration does not follow later changes of the code)."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agencies", sa.JSON(), nullable=True))
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_key", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_reports_agency_key"), ["agency_key"], unique=False)
    op.create_table(
        "report_uploads",
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("agency_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"]),
        sa.PrimaryKeyConstraint("report_id", "agency_key"),
    )
    with op.batch_alter_table("report_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_uploads_agency_key"), ["agency_key"], unique=False)
    # the reports read before tenancy: their agency keys (reports uploaded before have no upload records: they are
    # seen by unbound tokens and by tokens bound to their extracted agency)
    conn = op.get_bind()
    reports = sa.table("reports", sa.column("id", sa.String), sa.column("agency", sa.String), sa.column("agency_key"))
    rows = conn.execute(sa.select(reports.c.id, reports.c.agency).where(reports.c.agency.is_not(None))).all()
    for rid, agency in rows:
        conn.execute(sa.update(reports).where(reports.c.id == rid).values(agency_key=agency_key(agency)))


def downgrade() -> None:
    with op.batch_alter_table("report_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_uploads_agency_key"))
    op.drop_table("report_uploads")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_agency_key"))
        batch_op.drop_column("agency_key")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("agencies")
