"""the huddle's indexes hold what it counts on SQLite too, and its actions get one

SQLite has no INCLUDE, so 0007's included columns were missing there and a site's huddle
fetched tens of thousands of reports from the table (about a second at a million reports).
The columns are now keys on both databases, which changes nothing for PostgreSQL's
index-only scans.  A site's actions in progress (ten thousand in the demo) were read from
the table to check their status; the new index holds unit, status and order.  On a large PostgreSQL installation, build them with CREATE INDEX
CONCURRENTLY before upgrading, under these names.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports',
                    ['unit_id', 'created_at', 'acknowledged_at', 'ack_after_us'], unique=False)
    op.drop_index('ix_reports_open_unit', table_name='reports',
                  postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_reports_open_unit', 'reports',
                    ['unit_id', 'created_at', 'id', 'acknowledged_at', 'ack_due_at',
                     'close_due_at'],
                    unique=False, postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_improvement_actions_unit_status', 'improvement_actions',
                    ['unit_id', 'status', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_improvement_actions_unit_status', table_name='improvement_actions')
    op.drop_index('ix_reports_open_unit', table_name='reports',
                  postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_reports_open_unit', 'reports', ['unit_id', 'created_at', 'id'],
                    unique=False,
                    postgresql_include=['acknowledged_at', 'ack_due_at', 'close_due_at'],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', ['unit_id', 'created_at'],
                    unique=False, postgresql_include=['acknowledged_at', 'ack_after_us'])
