"""the huddle's indexes hold what it counts on SQLite too, its actions get one, and the
metrics read a unit's reports from an index

SQLite has no INCLUDE, so 0007's included columns were missing there and a site's huddle
fetched tens of thousands of reports from the table (about a second at a million reports).
The columns are now keys on both databases, which changes nothing for PostgreSQL's
index-only scans.  The index of a unit's reports by creation time now holds every column
the response-time metrics read: a year grouped by unit reads it in the units' order, with
no sort and without the table (at a million reports on PostgreSQL, about 2 s instead of 3
to 7 s under the same load).  A site's actions in progress (ten thousand in the demo) were
read from the table to check their status; the new index holds unit, status and order.
On a large PostgreSQL installation, build them with CREATE INDEX CONCURRENTLY before
upgrading, under these names.

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
# A unit's reports by creation time with every column the metrics read (as of this revision).
METRICS_INDEX = ('unit_id', 'created_at', 'acknowledged_at', 'ack_after_us', 'id', 'kind',
                 'category', 'anonymous', 'status', 'closed_at', 'ack_target_at',
                 'close_target_at', 'reopen_count', 'first_response_after_us',
                 'close_after_us')


def upgrade() -> None:
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', list(METRICS_INDEX),
                    unique=False)
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
