"""the report's active assignees on the report too, in the metrics' index

The response-time metrics by leader joined each report to its assignees: at a million
reports about three seconds on PostgreSQL and seven on SQLite, most of it finding each
report by its id.  Kept on the report (``assignee_ids``, written wherever the assignees
change), they are read with every other figure from the metrics' index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ('unit_id', 'created_at', 'acknowledged_at', 'ack_after_us', 'id', 'kind',
          'category', 'anonymous', 'status', 'closed_at', 'ack_target_at', 'close_target_at',
          'reopen_count', 'first_response_after_us', 'close_after_us', 'would_speak_up_again')
AFTER = (*BEFORE, 'assignee_ids')


def upgrade() -> None:
    op.add_column('reports', sa.Column('assignee_ids', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE reports SET assignee_ids = a.ids FROM (SELECT report_id, "
                   "string_agg(user_id, ' ' ORDER BY user_id) AS ids FROM report_assignees "
                   "WHERE active GROUP BY report_id) a WHERE a.report_id = reports.id")
    else:  # SQLite's group_concat keeps the order of its input
        op.execute("UPDATE reports SET assignee_ids = (SELECT group_concat(user_id, ' ') "
                   "FROM (SELECT user_id FROM report_assignees a WHERE a.report_id = "
                   "reports.id AND a.active ORDER BY user_id))")
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', list(AFTER), unique=False)


def downgrade() -> None:
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', list(BEFORE), unique=False)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('assignee_ids')
