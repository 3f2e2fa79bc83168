"""extractions: one machine result per (file content, pipeline version), whatever runs it (a cluster's actors may
run a document twice: the second finds its row and stores nothing); jobs.worker: where a job's last attempt ran

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extractions",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pipeline_version", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=32), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "pipeline_version"),
    )
    op.create_index("ix_extractions_report_id", "extractions", ["report_id"])
    # the results stored before: each done report's newest machine result, by the pipeline that made it
    op.execute(
        """
        INSERT INTO extractions (sha256, pipeline_version, report_id, version, job_id, created_at)
        SELECT r.sha256, r.pipeline_version, r.id,
               (SELECT max(v.version) FROM result_versions v WHERE v.report_id = r.id AND v.kind = 'machine'),
               NULL, r.updated_at
        FROM reports r
        WHERE r.status = 'done' AND r.pipeline_version IS NOT NULL
          AND EXISTS (SELECT 1 FROM result_versions v WHERE v.report_id = r.id AND v.kind = 'machine')
        """
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("worker")
    op.drop_index("ix_extractions_report_id", table_name="extractions")
    op.drop_table("extractions")
