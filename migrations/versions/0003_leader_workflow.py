"""leader workflow: feedback, improvement actions, the audit log, the latest closing time

``report_assignees.report_created_at`` copies each report's creation time, with an index that
makes a leader's inbox page one index range at any size (filled from ``reports`` here).
``audit_log`` is append-only: on PostgreSQL a trigger refuses every UPDATE, DELETE and
TRUNCATE of it, whoever sends them.  ``reports.last_closed_at`` (the reporter's reopen
window) starts as the first closing time of reports closed before the upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:44:19.591314
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import speakup.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('report_id', sa.String(length=32), nullable=True),
    sa.Column('action_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_actor_id_at', ['actor_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_log_at_id', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_report_id_at', ['report_id', 'at'], unique=False)

    op.create_table('improvement_actions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_improvement_actions_created_by_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_improvement_actions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_improvement_actions'))
    )
    with op.batch_alter_table('improvement_actions', schema=None) as batch_op:
        batch_op.create_index('ix_improvement_actions_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_improvement_actions_unit_id'), ['unit_id'], unique=False)

    op.create_table('action_reports',
    sa.Column('action_id', sa.String(length=32), nullable=False),
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('linked_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['improvement_actions.id'], name=op.f('fk_action_reports_action_id_improvement_actions')),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_action_reports_report_id_reports')),
    sa.PrimaryKeyConstraint('action_id', 'report_id', name=op.f('pk_action_reports'))
    )
    with op.batch_alter_table('action_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_reports_report_id'), ['report_id'], unique=False)

    op.create_table('action_updates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action_id', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['improvement_actions.id'], name=op.f('fk_action_updates_action_id_improvement_actions')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_action_updates_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_updates'))
    )
    with op.batch_alter_table('action_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_updates_action_id'), ['action_id'], unique=False)

    op.create_table('report_feedback',
    sa.Column('report_id', sa.String(length=32), nullable=False),
    sa.Column('loop_closed', sa.String(length=10), nullable=False),
    sa.Column('would_speak_up_again', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', speakup.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_feedback_report_id_reports')),
    sa.PrimaryKeyConstraint('report_id', name=op.f('pk_report_feedback'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_closed_at', speakup.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE reports SET last_closed_at = closed_at WHERE closed_at IS NOT NULL")

    with op.batch_alter_table('report_assignees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_created_at', speakup.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE report_assignees SET report_created_at = (SELECT created_at FROM reports "
               "WHERE reports.id = report_assignees.report_id)")
    with op.batch_alter_table('report_assignees', schema=None) as batch_op:
        batch_op.alter_column('report_created_at', nullable=False)
        batch_op.create_index('ix_report_assignees_inbox', ['user_id', 'active', 'report_created_at', 'report_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table('report_assignees', schema=None) as batch_op:
        batch_op.drop_index('ix_report_assignees_inbox')
        batch_op.drop_column('report_created_at')

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('last_closed_at')

    op.drop_table('report_feedback')
    with op.batch_alter_table('action_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_updates_action_id'))

    op.drop_table('action_updates')
    with op.batch_alter_table('action_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_reports_report_id'))

    op.drop_table('action_reports')
    with op.batch_alter_table('improvement_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_improvement_actions_unit_id'))
        batch_op.drop_index('ix_improvement_actions_created_at_id')

    op.drop_table('improvement_actions')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_report_id_at')
        batch_op.drop_index('ix_audit_log_at_id')
        batch_op.drop_index('ix_audit_log_actor_id_at')

    op.drop_table('audit_log')
