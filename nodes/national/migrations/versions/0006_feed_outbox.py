"""Revision 0006: an outbox row's signed bytes stored once (issue 19). New rows keep an
empty outbox.raw; their bytes are in messages.raw, or in `outbox_raw` when the message store keeps
none (a file chunk), so marking a row published no longer rewrites a large blob. Rows queued before
keep their bytes in outbox.raw and are read from there (store.NodeStore.pending).
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox_raw',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )


def downgrade() -> None:
    raise NotImplementedError("somex does not downgrade a schema: restore the backup made before the upgrade")
