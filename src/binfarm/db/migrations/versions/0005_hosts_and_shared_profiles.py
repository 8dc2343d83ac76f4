"""hosts and shared profiles

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("arch", sa.String(length=64), nullable=False),
        sa.Column("cpu_features", sa.JSON(), nullable=False),
        sa.Column("token", sa.Integer(), nullable=True),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("last_report_at", sa.Float(), nullable=True),
        sa.Column("last_result", sa.String(length=32), nullable=True),
        sa.Column("installed", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile"],
            ["profiles.name"],
        ),
        sa.ForeignKeyConstraint(
            ["token"],
            ["tokens.id"],
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tree_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("base", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_profiles_tree_digest"), ["tree_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_tree_digest"))
        batch_op.drop_column("base")
        batch_op.drop_column("tree_digest")

    op.drop_table("hosts")
