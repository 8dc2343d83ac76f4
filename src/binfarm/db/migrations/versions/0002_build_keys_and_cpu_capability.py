"""build keys and CPU capability

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_builds_key"), ["key"], unique=False)

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("key_inputs", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("required_isa", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_instances_key"), ["key"], unique=False)

    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpu_spec", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("cpu_features", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("exact_flags", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("exact_flags")
        batch_op.drop_column("cpu_features")
        batch_op.drop_column("cpu_spec")

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_key"))
        batch_op.drop_column("required_isa")
        batch_op.drop_column("key_inputs")
        batch_op.drop_column("key")

    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_builds_key"))
        batch_op.drop_column("key")
