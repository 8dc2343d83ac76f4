"""chroot build roots

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chroot", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "build_roots",
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "root_copies",
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), primary_key=True),
        sa.Column("worker", sa.String(128), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("layers", sa.Integer(), nullable=False),
        sa.Column("disk_bytes", sa.BigInteger(), nullable=False),
        sa.Column("system_state", sa.String(64)),
        sa.Column("reported_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("root_copies")
    op.drop_table("build_roots")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("chroot")
