"""indexes for the huddle: a unit's open reports and latest closings, and its median time
to acknowledge from the index alone on PostgreSQL

Chosen from EXPLAIN ANALYZE at a million reports: without them a site's huddle read the
whole table (about 2 s); with them it reads index entries only.  On a large PostgreSQL
installation, build them with CREATE INDEX CONCURRENTLY before upgrading, under these names.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")
CLOSED = sa.text("status = 'closed'")


def upgrade() -> None:
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', ['unit_id', 'created_at'],
                    unique=False, postgresql_include=['acknowledged_at', 'ack_after_us'])
    op.create_index('ix_reports_open_unit', 'reports', ['unit_id', 'created_at', 'id'],
                    unique=False,
                    postgresql_include=['acknowledged_at', 'ack_due_at', 'close_due_at'],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index('ix_reports_closed_unit', 'reports', ['unit_id', 'last_closed_at', 'id'],
                    unique=False, postgresql_where=CLOSED, sqlite_where=CLOSED)


def downgrade() -> None:
    op.drop_index('ix_reports_closed_unit', table_name='reports',
                  postgresql_where=CLOSED, sqlite_where=CLOSED)
    op.drop_index('ix_reports_open_unit', table_name='reports',
                  postgresql_where=OPEN, sqlite_where=OPEN)
    op.drop_index('ix_reports_unit_id_created_at', table_name='reports')
    op.create_index('ix_reports_unit_id_created_at', 'reports', ['unit_id', 'created_at'],
                    unique=False)
