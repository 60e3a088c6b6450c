"""Revision 0007: the messages' thread and reply_to indexes hold only the rows that have one
(issue 16: a border hit, like an alert or a checkpoint, has neither, and its commit then writes no
page of those two indexes).
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = ("thread", "reply_to")


def upgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_messages_{column}", table_name="messages")
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_messages_{column}", "messages", [column], unique=False,
                        sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_messages_{column}", table_name="messages")
        op.create_index(f"ix_messages_{column}", "messages", [column], unique=False)
