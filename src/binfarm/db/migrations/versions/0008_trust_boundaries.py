"""trust boundaries: a worker token is bound to one worker name; notices can be given up

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(128)))
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("given_up_at", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("given_up_at")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("worker")
