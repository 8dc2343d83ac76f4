"""Hosts on a real Farm: equal configurations share one profile; a too-small CPU is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.farm import Farm
from binfarm.profiles.archive import find_make_profile, pack_tree
from binfarm.worker.machine import local_cpu_features
from tests.builders import copy_example_profile


def test_hosts_with_the_same_configuration_share_a_profile(farm: Farm, tmp_path: Path) -> None:
    tree = copy_example_profile("laptop", tmp_path / "etc-portage")
    (tree / "package.use" / "local").write_text("app-misc/hello debug\n")
    packed, ref = pack_tree(tree), find_make_profile(tree)
    cpu = local_cpu_features()
    one, one_token = farm.enrollment.register("One", packed, ref, arch="x86_64", cpu_features=cpu,
                                        base="laptop")
    two, _ = farm.enrollment.register("two", packed, ref, arch="x86_64", cpu_features=cpu)
    assert one.name == "one" and one.profile == two.profile == "host-one"
    assert farm.profiles.get("host-one").base == "laptop"
    assert farm.tokens.verify(one_token).profile == "host-one"
    # The laptop profile's own configuration, untouched: the host joins that profile.
    plain, _ = farm.enrollment.register("three", pack_tree(copy_example_profile(
        "laptop", tmp_path / "plain")), ref, arch="x86_64", cpu_features=cpu)
    assert plain.profile == "laptop"

    with pytest.raises(InvalidInput, match=r"host four's CPU lacks .*sse4\.2"):
        farm.enrollment.register("four", packed, ref, arch="x86_64",
                           cpu_features=frozenset({"sse", "sse2", "mmx", "fxsr"}))
    assert farm.hosts.find("four") is None
