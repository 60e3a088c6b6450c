"""Revision 0001: the node's schema as somex 0.3.0 made it (every table of a national node).

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
    op.create_table('alarms',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_table('deliveries',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('recipient', sa.String(length=8), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=True),
    sa.Column('queued_at', sa.String(length=32), nullable=False),
    sa.Column('due', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('settled_at', sa.String(length=32), nullable=True),
    sa.Column('overdue_since', sa.String(length=32), nullable=True),
    sa.Column('resends', sa.Integer(), nullable=False),
    sa.Column('expires', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id', 'recipient'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_deliveries_due'), 'deliveries', ['due'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_deliveries_state'), 'deliveries', ['state'], unique=False, if_not_exists=True)
    op.create_table('log_receipt_checks',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_table('messages',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=8), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=True),
    sa.Column('reply_to', sa.String(length=36), nullable=True),
    sa.Column('created', sa.String(length=32), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('stored_at', sa.String(length=32), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=True),
    sa.Column('log_receipt', sa.Text(), nullable=True),
    sa.Column('retain_until', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_messages_direction'), 'messages', ['direction'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_messages_reply_to'), 'messages', ['reply_to'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_messages_retain_until'), 'messages', ['retain_until'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_messages_thread'), 'messages', ['thread'], unique=False, if_not_exists=True)
    op.create_table('outbox',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('queued_at', sa.String(length=32), nullable=False),
    sa.Column('published_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_outbox_published_at'), 'outbox', ['published_at'], unique=False, if_not_exists=True)
    op.create_table('receipts',
    sa.Column('of', sa.String(length=36), nullable=False),
    sa.Column('by', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('receipt_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('of', 'by', 'kind'),
    if_not_exists=True,
    )
    op.create_table('refusals',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('sender', sa.String(length=8), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_table('witnessed_checkpoints',
    sa.Column('size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('size'),
    if_not_exists=True,
    )
    op.create_table('alert_hits',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('checking_country', sa.String(length=3), nullable=False),
    sa.Column('issuing_country', sa.String(length=3), nullable=False),
    sa.Column('document_type', sa.String(length=32), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('checked_at', sa.String(length=32), nullable=False),
    sa.Column('check_kind', sa.String(length=16), nullable=False),
    sa.Column('point', sa.String(length=120), nullable=False),
    sa.Column('received_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_index('ix_alert_hits_received', 'alert_hits', ['received_at'], unique=False, if_not_exists=True)
    op.create_table('alert_replica',
    sa.Column('issuing_country', sa.String(length=3), nullable=False),
    sa.Column('document_type', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('document_number', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reported', sa.String(length=10), nullable=False),
    sa.Column('event_date', sa.String(length=10), nullable=True),
    sa.Column('issue_date', sa.String(length=10), nullable=True),
    sa.Column('expiry_date', sa.String(length=10), nullable=True),
    sa.Column('review_date', sa.String(length=10), nullable=False),
    sa.Column('national_reference', sa.String(length=128), nullable=True),
    sa.Column('lifecycle_key', sa.String(length=80), nullable=True),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('update_key', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('issuing_country', 'document_type', 'number'),
    sqlite_with_rowid=False,
    if_not_exists=True,
    )
    op.create_table('feed_errors',
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('job_id', 'line'),
    if_not_exists=True,
    )
    op.create_table('feed_jobs',
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.String(length=32), nullable=False),
    sa.Column('finished_at', sa.String(length=32), nullable=True),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job_id'),
    if_not_exists=True,
    )
    op.create_table('feed_sent',
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('digest'),
    if_not_exists=True,
    )
    op.create_table('case_access_log',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_table('case_carriers',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_carriers_case_id'), 'case_carriers', ['case_id'], unique=False, if_not_exists=True)
    op.create_table('case_documents',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('number_key', sa.String(length=64), nullable=False),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_documents_case_id'), 'case_documents', ['case_id'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_case_documents_number_key'), 'case_documents', ['number_key'], unique=False, if_not_exists=True)
    op.create_table('case_jit_messages',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=False),
    sa.Column('sender', sa.String(length=3), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_jit_messages_thread'), 'case_jit_messages', ['thread'], unique=False, if_not_exists=True)
    op.create_table('case_jits',
    sa.Column('thread', sa.String(length=128), nullable=False),
    sa.Column('opener', sa.String(length=3), nullable=False),
    sa.Column('members', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=True),
    sa.Column('opened_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('thread'),
    if_not_exists=True,
    )
    op.create_table('case_name_tokens',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('name_no', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=100), nullable=False),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_name_tokens_case_id'), 'case_name_tokens', ['case_id'], unique=False, if_not_exists=True)
    op.create_index('ix_case_name_tokens_lookup', 'case_name_tokens', ['token', 'person_id', 'name_no'], unique=False, if_not_exists=True)
    op.create_table('case_permissions',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('targets', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_table('case_persons',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('date_of_birth', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_persons_case_id'), 'case_persons', ['case_id'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_case_persons_date_of_birth'), 'case_persons', ['date_of_birth'], unique=False, if_not_exists=True)
    op.create_table('case_purges',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_table('case_shares_out',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_shares_out_case_id'), 'case_shares_out', ['case_id'], unique=False, if_not_exists=True)
    op.create_table('case_vessels',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=True),
    sa.Column('imo', sa.String(length=7), nullable=True),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_case_vessels_case_id'), 'case_vessels', ['case_id'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_case_vessels_imo'), 'case_vessels', ['imo'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_case_vessels_name_key'), 'case_vessels', ['name_key'], unique=False, if_not_exists=True)
    op.create_table('cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('provider', sa.String(length=3), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('held_from', sa.String(length=3), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('thread', sa.String(length=128), nullable=True),
    sa.Column('handling', sa.Text(), nullable=True),
    sa.Column('retention_until', sa.String(length=32), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('provenance', sa.Text(), nullable=True),
    sa.Column('stored_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'reference', 'held_from'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_cases_retention_until'), 'cases', ['retention_until'], unique=False, if_not_exists=True)
    op.create_table('mla_events',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=True),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=8), nullable=False),
    sa.Column('from_state', sa.String(length=40), nullable=True),
    sa.Column('to_state', sa.String(length=40), nullable=True),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('refused', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_mla_events_request_id'), 'mla_events', ['request_id'], unique=False, if_not_exists=True)
    op.create_table('mla_requests',
    sa.Column('request_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('requesting', sa.String(length=8), nullable=False),
    sa.Column('requested', sa.String(length=8), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('deadline', sa.String(length=10), nullable=True),
    sa.Column('state', sa.String(length=40), nullable=False),
    sa.Column('created', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.Column('delivered_at', sa.String(length=32), nullable=True),
    sa.Column('retrieved_at', sa.String(length=32), nullable=True),
    sa.Column('reminded', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('request_id'),
    sa.UniqueConstraint('requesting', 'reference'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_mla_requests_direction'), 'mla_requests', ['direction'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_mla_requests_state'), 'mla_requests', ['state'], unique=False, if_not_exists=True)
    op.create_index(op.f('ix_mla_requests_thread'), 'mla_requests', ['thread'], unique=False, if_not_exists=True)
    op.create_table('body_access_log',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=3), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    if_not_exists=True,
    )
    op.create_index(op.f('ix_body_access_log_message_id'), 'body_access_log', ['message_id'], unique=False, if_not_exists=True)
    op.create_table('message_reads',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('read_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id'),
    if_not_exists=True,
    )
    op.create_table('console_feed_uploads',
    sa.Column('job_id', sa.String(length=36), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('job_id'),
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
