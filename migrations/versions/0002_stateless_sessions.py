"""stateless sessions: no sign-in times; a deny list of ended sessions and spent tokens

Sessions no longer have rows: ``auth_sessions`` kept when each user signed in, to the
microsecond.  Tokens now carry a random session id and the user's ``session_epoch``; ended
sessions and spent refresh tokens go on ``revoked_tokens``, which keeps no user id and no
time but an expiry rounded up to the hour.  Every session open at the upgrade ends (its
tokens carry no epoch): people sign in again.  Idempotency records of anonymous reports are
dropped: under the old derivation they and the secret yielded receipt keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import speakup.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
    op.drop_table('auth_sessions')

    op.create_table('revoked_tokens',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revoked_tokens'))
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'],
                              unique=False)

    # Receipt keys of anonymous reports with an Idempotency-Key used to be derivable from
    # these records (key_hash + report id) and the secret: drop those records, so that no
    # database copy made after this upgrade recovers one.  A retry of such a submission
    # within its 24 hours now creates a second report instead of replaying the first.
    op.execute(sa.text(
        "DELETE FROM idempotency_records WHERE report_id IN "
        "(SELECT id FROM reports WHERE anonymous = :yes)").bindparams(yes=True))

    # Plain ALTER TABLE (SQLite >= 3.35 too): rebuilding `users` would fight its foreign keys.
    op.add_column('users', sa.Column('session_epoch', sa.Integer(), server_default='0',
                                     nullable=False))


def downgrade() -> None:
    op.drop_column('users', 'session_epoch')

    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))
    op.drop_table('revoked_tokens')

    # Sessions cannot be brought back: everybody signs in again after a downgrade.
    op.create_table('auth_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', speakup.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)
