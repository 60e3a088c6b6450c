"""Revision 0001: the hub's schema as somex 0.3.0 made it (the hub's audit store and federation documents).

Frozen: never edit it, add a revision. Every table and index is created only if missing, so that
`somex db upgrade` can adopt a database made by somex 0.3 (before migrations; its tables are first
checked against these, nodes/plumbing/schema.py) and create what that release made only on demand.
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('leaf', sa.LargeBinary(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=True),
    sa.Column('sender', sa.String(length=8), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_audit_entries_message_id'), 'audit_entries', ['message_id'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_audit_entries_received_at'), 'audit_entries', ['received_at'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_audit_entries_sender'), 'audit_entries', ['sender'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_audit_entries_thread'), 'audit_entries', ['thread'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_audit_entries_type'), 'audit_entries', ['type'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_audit_entries_verdict'), 'audit_entries', ['verdict'], unique=False, if_not_exists=True)
    op.create_table('checkpoint_cosignatures',
    sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('witness', sa.String(length=8), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('size', 'witness'),
    if_not_exists=True,
    )
    op.create_index('checkpoint_cosignatures_by_rank', 'checkpoint_cosignatures', ['size', 'rank'], unique=False, if_not_exists=True)
    op.create_table('checkpoints',
    sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('size'),
    if_not_exists=True,
    )
    op.create_table('cosigned_checkpoints',
    sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cosigners', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('size'),
    if_not_exists=True,
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('broker_user', sa.String(length=128), nullable=True),
    sa.Column('queue', sa.String(length=255), nullable=True),
    sa.Column('routing_key', sa.String(length=255), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('kept_at', sa.String(length=32), nullable=False),
    sa.Column('requested_at', sa.String(length=32), nullable=True),
    sa.Column('requeued_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_dead_letters_seq'), 'dead_letters', ['seq'], unique=False, if_not_exists=True)
    op.create_table('forwarded',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_table('merkle_nodes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    if_not_exists=True,
    )
    op.create_table('parked_forwards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=8), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('headers', sa.Text(), nullable=False),
    sa.Column('parked_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_parked_forwards_recipient'), 'parked_forwards', ['recipient'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_parked_forwards_seq'), 'parked_forwards', ['seq'], unique=False, if_not_exists=True)
    op.create_table('seen_messages',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_table('witness_latest',
    sa.Column('witness', sa.String(length=8), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('witness'),
    if_not_exists=True,
    )
    op.create_table('federation_documents',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('kind'),
    if_not_exists=True,
    )


def downgrade() -> None:
    raise NotImplementedError("somex does not downgrade a schema: restore the backup made before the upgrade")
