"""Revision 0002: somex_hub_identity, naming whose database this is (hub id), so that
`somex db upgrade`, start-up and `somex hub restore` refuse another holder's database or backup.

The holder is the one `somex db upgrade` was given (or the process that created the database).
"""

from alembic import context, op
import sqlalchemy as sa

from protocol.timefmt import format_time

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from nodes.plumbing.config import utcnow

    table = op.create_table(
        "somex_hub_identity",
        sa.Column("holder", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("holder"),
    )
    op.bulk_insert(table, [{"holder": context.config.attributes["holder"], "created_at": format_time(utcnow())}])


def downgrade() -> None:
    raise NotImplementedError("somex does not downgrade a schema: restore the backup made before the upgrade")
