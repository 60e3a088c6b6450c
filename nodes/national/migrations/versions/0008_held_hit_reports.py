"""Revision 0008: a border check's hit reports are held in its own transaction and signed and queued
after its answer (issue 16: the answer no longer waits for the signing and the outbox).
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_hit_reports",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=3), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("held_hit_reports")
