"""Revision 0004: the competent-authority profiles feature's table (issue 17 part 2): the newest
profile each country published, one row per country.
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profiles',
    sa.Column('country', sa.String(length=3), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('profile', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('stored_at', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('country')
    )


def downgrade() -> None:
    raise NotImplementedError("somex does not downgrade a schema: restore the backup made before the upgrade")
