"""rollout: channels per profile, their indexes' generations, promotion events, rules and
canary reports

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _create_instance_record(name: str, *columns: sa.Column) -> None:
    """A timestamped record about one instance in one profile (as db/tables.py's
    _instance_record, frozen here as this revision made it)."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), nullable=False),
        sa.Column("instance", sa.Integer(), sa.ForeignKey("instances.id"), nullable=False),
        *columns,
        sa.Column("at", sa.Float(), nullable=False),
        sa.Index(f"ix_{name}_profile_instance", "profile", "instance"),
    )


def upgrade() -> None:
    op.create_table(
        "channel_indexes",
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("profile", "channel"),
    )
    # What every client saw so far was the stable index.
    op.execute("INSERT INTO channel_indexes (profile, channel, digest, timestamp, generation) "
               "SELECT profile, 'stable', digest, timestamp, 1 FROM index_states")
    op.drop_table("index_states")
    op.create_table(
        "rollout_rules",
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), primary_key=True),
        sa.Column("soak_s", sa.Integer(), nullable=False),
        sa.Column("canaries", sa.Integer(), nullable=False),
    )
    _create_instance_record(
        "canary_reports",
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
    )
    _create_instance_record(
        "rollout_events",
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(16), nullable=False,
                                      server_default="stable"))


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("channel")
    op.drop_table("canary_reports")
    op.drop_table("rollout_events")
    op.drop_table("rollout_rules")
    op.create_table(
        "index_states",
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO index_states (profile, digest, timestamp) "
               "SELECT profile, digest, timestamp FROM channel_indexes WHERE channel = 'stable'")
    op.drop_table("channel_indexes")
