"""A collection killed with SIGKILL half way through deleting files leaves no index that
lists a missing file, and the next collection finishes it (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import Engine

from binfarm.retention.policy import Policy
from binfarm.retention.service import Retention
from binfarm.rollout.channels import Channel
from binfarm.store.catalog import Catalog
from tests.integration.conftest import Clock
from tests.integration.retention.test_retention import _build

# The collection in a process of its own, killed (SIGKILL: no cleanup of any kind) as it
# is about to unlink its fifth file.
_COLLECT = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from binfarm.db.engine import open_engine
    from binfarm.hosts.registry import HostRegistry
    from binfarm.retention.policy import Policy
    from binfarm.retention.service import Retention
    from binfarm.rollout.service import Rollout
    from binfarm.rollout.views import ChannelViews
    from binfarm.store.blobs import BlobStore
    from binfarm.store.catalog import Catalog
    from tests.integration.store.test_catalog import V2

    engine = open_engine(sys.argv[1])
    catalog = Catalog(engine, time.time)
    views = ChannelViews(catalog, Rollout(engine, time.time), lambda _name: V2)
    retention = Retention(engine, catalog, views, HostRegistry(engine, time.time),
                          BlobStore(Path(sys.argv[2])), lambda: ["laptop"], time.time)
    plan = retention.plan(Policy(grace_s=0, generations_s=0, keep=0))
    unlinked = 0
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        global unlinked
        unlinked += 1
        if unlinked == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        real_unlink(path, *args, **kwargs)

    os.unlink = unlink
    retention.collect(plan)
""")


def test_a_collection_killed_half_way_lists_no_missing_file_and_is_finished(
    catalog: Catalog, engine: Engine, clock: Clock, database_url: str, tmp_path: Path,
    retention: Retention,
) -> None:
    clock.now = time.time() - 86400
    blobs = retention.blobs
    built = [_build(catalog, blobs, n, cpv=f"app-misc/p{n % 5}-1.0") for n in range(40)]
    listed_before = {i.id for i in retention.channels.listed("laptop", Channel.STABLE)}
    assert len(listed_before) == 5

    killed = subprocess.run([sys.executable, "-c", _COLLECT, database_url, str(blobs.root)],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parents[3])
    assert killed.returncode == -9, killed.stderr

    present = [i for i in built if blobs.path(i.sha256).exists()]
    assert 5 < len(present) < len(built)  # killed in the middle of deleting
    for channel in Channel:
        for instance in retention.channels.listed("laptop", channel):
            assert blobs.path(instance.sha256).exists(), instance.path
    assert {i.id for i in retention.channels.listed("laptop", Channel.STABLE)} == listed_before

    done = retention.collect(retention.plan(Policy(grace_s=0, generations_s=0, keep=0)))
    assert done.finished == len(present) - len(listed_before) and done.instances == 0
    assert sorted(i.id for i in built if blobs.path(i.sha256).exists()) == \
        sorted(listed_before)
