"""the SLA due times each report was created with, for the response-time metrics

Escalation moves ``ack_due_at`` and ``close_due_at`` on; metrics judge a report against the
due times it was created with, which are its creation time plus the hours it stores.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import speakup.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite adds a NOT NULL column only with a default; every row gets its real value below.
_PLACEHOLDER = '1970-01-01 00:00:00.000000'


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for name in ('ack_target_at', 'close_target_at'):
        op.add_column('reports', sa.Column(name, speakup.db.UTCDateTime(timezone=True),
                                           nullable=False,
                                           server_default=_PLACEHOLDER if sqlite else sa.func.now()))
    if sqlite:
        # datetime() drops the fraction of a second; whole hours never change it.
        op.execute("UPDATE reports SET "
                   "ack_target_at = datetime(created_at, '+' || sla_ack_hours || ' hours') "
                   "|| substr(created_at, 20), "
                   "close_target_at = datetime(created_at, '+' || sla_close_hours || ' hours') "
                   "|| substr(created_at, 20)")
    else:
        op.execute("UPDATE reports SET "
                   "ack_target_at = created_at + sla_ack_hours * interval '1 hour', "
                   "close_target_at = created_at + sla_close_hours * interval '1 hour'")
        op.alter_column('reports', 'ack_target_at', server_default=None)
        op.alter_column('reports', 'close_target_at', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('close_target_at')
        batch_op.drop_column('ack_target_at')
