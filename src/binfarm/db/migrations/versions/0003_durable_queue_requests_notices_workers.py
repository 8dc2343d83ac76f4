"""durable queue, requests, notices, workers

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("arch", sa.String(length=64), nullable=False),
        sa.Column("cpu_features", sa.JSON(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("benched_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build", sa.Integer(), nullable=False),
        sa.Column("requester", sa.String(length=256), nullable=False),
        sa.Column("token", sa.Integer(), nullable=True),
        sa.Column("webhook", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build"],
            ["builds.id"],
        ),
        sa.ForeignKeyConstraint(
            ["token"],
            ["tokens.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_requests_build"), ["build"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request"],
            ["requests.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notices_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("env", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("requester", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("required_isa", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("not_before", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_builds_requester_started", ["requester", "started_at"], unique=False
        )

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("networks", sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("networks")
        batch_op.drop_column("profile")

    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index("ix_builds_requester_started")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("not_before")
        batch_op.drop_column("attempts")
        batch_op.drop_column("required_isa")
        batch_op.drop_column("requester")
        batch_op.drop_column("env")

    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_next_attempt_at"))

    op.drop_table("notices")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requests_build"))

    op.drop_table("requests")
    op.drop_table("workers")
