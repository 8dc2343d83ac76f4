"""signing: the farm's keys, and which key signed each stored instance

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("fingerprint", sa.String(40), primary_key=True),
        sa.Column("algorithm", sa.String(32), nullable=False),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("added_at", sa.Float(), nullable=False),
        sa.Column("retired_at", sa.Float()),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signer", sa.String(40)))
        batch_op.add_column(sa.Column("upload_sha256", sa.String(64)))
        batch_op.create_index("ix_instances_signer", ["signer"])
        batch_op.create_index("ix_instances_upload_sha256", ["upload_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index("ix_instances_upload_sha256")
        batch_op.drop_index("ix_instances_signer")
        batch_op.drop_column("upload_sha256")
        batch_op.drop_column("signer")
    op.drop_table("signing_keys")
