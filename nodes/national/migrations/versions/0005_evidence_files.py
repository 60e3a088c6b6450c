"""Revision 0005: the files feature's tables (issue 17 part 3): large evidence files sent and
received in chunks, and the state of each chunk.
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('files_out',
    sa.Column('carrier', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('recipient', sa.String(length=8), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=False),
    sa.Column('spool', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('next_chunk', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('carrier', 'n')
    )
    op.create_index('ix_files_out_state', 'files_out', ['state'], unique=False)
    op.create_table('file_chunks_out',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('carrier', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    op.create_index('ix_file_chunks_out_carrier', 'file_chunks_out', ['carrier'], unique=False)
    op.create_index('ix_file_chunks_out_state', 'file_chunks_out', ['state'], unique=False)
    op.create_table('files_in',
    sa.Column('carrier', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sender', sa.String(length=8), nullable=False),
    sa.Column('thread', sa.String(length=128), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('expected_at', sa.String(length=32), nullable=False),
    sa.Column('completed_at', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('carrier', 'n')
    )
    op.create_index('ix_files_in_state', 'files_in', ['state'], unique=False)
    op.create_index('ix_files_in_thread', 'files_in', ['thread'], unique=False)
    op.create_table('file_chunks_in',
    sa.Column('carrier', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('chunk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('carrier', 'n', 'chunk')
    )


def downgrade() -> None:
    op.drop_table('file_chunks_in')
    op.drop_index('ix_files_in_thread', table_name='files_in')
    op.drop_index('ix_files_in_state', table_name='files_in')
    op.drop_table('files_in')
    op.drop_index('ix_file_chunks_out_state', table_name='file_chunks_out')
    op.drop_index('ix_file_chunks_out_carrier', table_name='file_chunks_out')
    op.drop_table('file_chunks_out')
    op.drop_index('ix_files_out_state', table_name='files_out')
    op.drop_table('files_out')
