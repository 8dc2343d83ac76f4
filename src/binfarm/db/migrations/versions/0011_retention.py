"""retention and tests: what each index generation listed, pins, collected instances, what
hosts installed from binaries; a build's requesters can be told more than once (a
withdrawal); test runs of instances, and a promotion rule that waits for them

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _unique_request(drop: bool) -> None:
    """Drop (or restore) 0003's unnamed UNIQUE (request) of notices: PostgreSQL named it
    notices_request_key; SQLite reflects it nameless, so a naming convention names it."""
    if op.get_bind().dialect.name == "postgresql":
        if drop:
            op.drop_constraint("notices_request_key", "notices", type_="unique")
        else:
            op.create_unique_constraint("notices_request_key", "notices", ["request"])
        return
    convention = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
    with op.batch_alter_table("notices", naming_convention=convention) as batch_op:
        if drop:
            batch_op.drop_constraint("uq_notices_request", type_="unique")
        else:
            batch_op.create_unique_constraint("uq_notices_request", ["request"])


def upgrade() -> None:
    op.create_table(
        "index_generations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("profile", sa.String(64), sa.ForeignKey("profiles.name"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.UniqueConstraint("profile", "channel", "generation",
                            name="uq_index_generations_channel_generation"),
    )
    op.create_table(
        "pins",
        sa.Column("instance", sa.Integer(), sa.ForeignKey("instances.id"), primary_key=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("collected_at", sa.Float()))
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("binpkgs", sa.JSON()))
    _unique_request(drop=True)
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tests_instance", sa.Integer(),
                                      sa.ForeignKey("instances.id",
                                                    name="fk_builds_tests_instance")))
    with op.batch_alter_table("rollout_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tests", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("rollout_rules", schema=None) as batch_op:
        batch_op.drop_column("tests")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_constraint("fk_builds_tests_instance", type_="foreignkey")
        batch_op.drop_column("tests_instance")
    op.execute("DELETE FROM notices WHERE id NOT IN "
               "(SELECT MIN(id) FROM notices GROUP BY request)")
    _unique_request(drop=False)
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("binpkgs")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("collected_at")
    op.drop_table("pins")
    op.drop_table("index_generations")
