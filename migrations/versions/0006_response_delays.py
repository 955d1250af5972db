"""how long after creation each report was acknowledged, answered and closed, for metrics

Kept in whole microseconds (``speakup.services.reports.delays``); existing reports get
theirs from their timestamps.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELAYS = {'acknowledged_at': 'ack_after_us', 'first_response_at': 'first_response_after_us',
          'closed_at': 'close_after_us'}


def _micros(moment: str, sqlite: bool) -> str:
    if sqlite:
        return (f"(unixepoch({moment}) - unixepoch(created_at)) * 1000000 "
                f"+ (CAST(substr({moment}, 21, 6) AS INTEGER) "
                f"- CAST(substr(created_at, 21, 6) AS INTEGER))")
    return f"CAST(extract(epoch from ({moment} - created_at)) * 1000000 AS BIGINT)"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for delay in DELAYS.values():
        op.add_column('reports', sa.Column(delay, sa.BigInteger(), nullable=True))
    op.execute("UPDATE reports SET " + ", ".join(  # noqa: S608 - fixed names only
        f"{delay} = {_micros(moment, sqlite)}" for moment, delay in DELAYS.items()))


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        for delay in reversed(DELAYS.values()):
            batch_op.drop_column(delay)
