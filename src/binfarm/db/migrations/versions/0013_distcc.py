"""distcc: compile hosts, their leased slots, what builds compile on them, workers' gcc,
profiles' -march=native flags written out

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "distcc_hosts",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text()),
        sa.Column("compiler", sa.Text()),
        sa.Column("compilers", sa.JSON()),
        sa.Column("warning", sa.Text()),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.Column("probed_at", sa.Float()),
        sa.Column("stats", sa.JSON()),
        sa.Column("stats_at", sa.Float()),
    )
    op.create_table(
        "distcc_slots",
        sa.Column("host", sa.String(300),
                  sa.ForeignKey("distcc_hosts.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True),
        sa.Column("build", sa.Integer(), sa.ForeignKey("builds.id"), nullable=False,
                  index=True),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("leased_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "distcc_activity",
        sa.Column("build", sa.Integer(), sa.ForeignKey("builds.id"), primary_key=True),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compiler", sa.Text()))
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flag_overrides", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("flag_overrides")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("compiler")
    op.drop_table("distcc_activity")
    op.drop_table("distcc_slots")
    op.drop_table("distcc_hosts")
