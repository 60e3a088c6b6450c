"""Revision 0008: hit reports a border check decided to send, written with its access-log entry and
signed after the officer's answer (issue 16: the answer no longer waits for signing them).
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_hit_reports",
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(3), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("person_hit_reports")
