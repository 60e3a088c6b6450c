"""Revision 0003: the person-alert feature's tables (issue 16): the replica of received person
alerts with its name-block keys, the messages that carried each alert (erased on withdrawal), the
border-check log, hits received as issuer, and the alerts this node issued.
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issued_person_alerts',
    sa.Column('national_reference', sa.String(length=100), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('review_date', sa.String(length=10), nullable=False),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('national_reference')
    )
    op.create_table('person_alert_keys',
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('birth_date', sa.String(length=10), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'birth_date', 'alert_id'),
    sqlite_with_rowid=False
    )
    op.create_index('ix_person_alert_keys_alert', 'person_alert_keys', ['alert_id'], unique=False)
    op.create_table('person_alert_messages',
    sa.Column('issuer', sa.String(length=3), nullable=False),
    sa.Column('national_reference', sa.String(length=100), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'national_reference', 'message_id')
    )
    op.create_table('person_alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('issuer', sa.String(length=3), nullable=False),
    sa.Column('national_reference', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=80), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('review_date', sa.String(length=10), nullable=False),
    sa.Column('record', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_person_alerts_review', 'person_alerts', ['review_date'], unique=False)
    op.create_index('ux_person_alerts_key', 'person_alerts', ['issuer', 'national_reference'], unique=True)
    op.create_table('person_check_log',
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('check_kind', sa.String(length=16), nullable=False),
    sa.Column('point', sa.String(length=120), nullable=False),
    sa.Column('person_matches', sa.Text(), nullable=False),
    sa.Column('document_hit', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('reference')
    )
    op.create_index('ix_person_check_log_at', 'person_check_log', ['at'], unique=False)
    op.create_table('person_hits',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('checking_country', sa.String(length=3), nullable=False),
    sa.Column('national_reference', sa.String(length=100), nullable=False),
    sa.Column('checked_at', sa.String(length=32), nullable=False),
    sa.Column('check_kind', sa.String(length=16), nullable=False),
    sa.Column('point', sa.String(length=120), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('date_of_birth', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    op.create_index('ix_person_hits_received', 'person_hits', ['received_at'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("somex does not downgrade a schema: restore the backup made before the upgrade")
