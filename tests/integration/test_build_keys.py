"""Build keys on a real Farm: equal keys share one binary, a changed input splits them.

The farm builds from a copy of the example repository that a test may edit; binary
packages come from real emerge runs (the laptop_packages fixture) and are uploaded through
the worker protocol's use cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.examples import EXAMPLE_REPO_NAME
from binfarm.farm import Farm
from binfarm.queue.rules import BuildState
from binfarm.worker.machine import local_cpu_features
from tests.builders import copy_example_profile
from tests.integration.conftest import add_profile, make_root, upload_root


def build_with(farm: Farm, profile: str, atom: str, packages: list[Path]) -> int:
    """Run one build through the worker protocol's use cases, uploading `packages`."""
    [build] = farm.request_builds(profile, [atom])
    farm.register_worker("w", "x86_64", local_cpu_features(), 1)
    leased = farm.lease("w")
    assert leased is not None and leased.id == build.id
    for path in packages:
        with farm.blobs.receive(1 << 30) as writer:
            writer.write(path.read_bytes())
            farm.receive_package(build.id, "w", path.name, writer)
    assert farm.finish_build(build.id, "w", ok=True, error=None).state == BuildState.SUCCEEDED
    return build.id


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_a_key_already_stored_is_answered_without_a_build(
    farm: Farm, laptop_packages: dict[str, Path],
) -> None:
    built = build_with(farm, "laptop", "hello", [laptop_packages["hello"],
                                                 laptop_packages["libgreet"]])
    [again] = farm.request_builds("laptop", ["app-misc/hello"])
    [dependency] = farm.request_builds("laptop", ["dev-libs/libgreet"])
    assert again.id == dependency.id == built
    assert again.state == BuildState.SUCCEEDED
    assert len(farm.queue.list()) == 1


def test_profiles_differing_in_pipe_or_foreign_use_share_one_build(
    farm: Farm, laptop_packages: dict[str, Path], tmp_path: Path,
) -> None:
    twin = copy_example_profile("laptop", tmp_path / "twin")
    (twin / "make.conf" / "03twin").write_text(
        'CFLAGS="-O2 -march=x86-64-v2"\nCXXFLAGS="${CFLAGS}"\nUSE="${USE} gtk qt5"\n')
    add_profile(farm, "twin", twin, "x86-64-v2")
    built = build_with(farm, "laptop", "hello", [laptop_packages["hello"],
                                                 laptop_packages["libgreet"]])
    assert farm.request_builds("twin", ["hello"])[0].id == built
    [twin_view] = farm.explain("hello", ["twin"])
    [verdict] = twin_view.instances
    assert verdict.same_key and verdict.fit.ok and verdict.differences == ()

    queued_laptop = farm.request_builds("laptop", ["wordcount"])[0]
    queued_twin = farm.request_builds("twin", ["wordcount"])[0]
    assert queued_twin.id == queued_laptop.id and queued_twin.state == BuildState.QUEUED


def test_a_changed_ebuild_gives_a_new_key(farm: Farm, laptop_packages: dict[str, Path]) -> None:
    built = build_with(farm, "laptop", "hello", [laptop_packages["hello"],
                                                 laptop_packages["libgreet"]])
    repo = farm.repositories.locations()[EXAMPLE_REPO_NAME]
    edit(repo / "app-misc/hello/hello-1.0.ebuild", 'SLOT="0"', 'SLOT="0"\n# a fix')
    [rebuild] = farm.request_builds("laptop", ["hello"])
    assert rebuild.id != built and rebuild.state == BuildState.QUEUED
    [view] = farm.explain("hello", ["laptop"])
    assert not view.instances[0].same_key
    assert view.instances[0].differences == ("the ebuild changed since this binary was built",)


def test_a_new_dependency_subslot_gives_a_new_key(
    farm: Farm, laptop_packages: dict[str, Path],
) -> None:
    built = build_with(farm, "laptop", "hello", [laptop_packages["hello"],
                                                 laptop_packages["libgreet"]])
    repo = farm.repositories.locations()[EXAMPLE_REPO_NAME]
    edit(repo / "dev-libs/libgreet/libgreet-1.0.ebuild", 'SLOT="0/1"', 'SLOT="0/2"')
    [rebuild] = farm.request_builds("laptop", ["hello"])
    assert rebuild.id != built
    [view] = farm.explain("hello", ["laptop"])
    hello = next(v for v in view.instances if v.instance.cpv == "app-misc/hello-1.0")
    assert hello.differences == (
        "dependency dev-libs/libgreet subslot changed: built against 0/1, now 0/2",)


def test_explain_names_use_flags_and_flags(farm: Farm,
                                          laptop_packages: dict[str, Path]) -> None:
    build_with(farm, "laptop", "hello", [laptop_packages["hello"], laptop_packages["libgreet"]])
    [desktop, laptop] = farm.explain("hello", ["desktop", "laptop"])
    assert desktop.key != laptop.key
    [verdict] = desktop.instances
    assert verdict.fit.ok  # an x86-64-v2 binary runs on the desktop's CPU
    assert not verdict.same_key
    assert "USE differs: the profile wants +debug +nls" in verdict.differences
    assert ("CFLAGS differ: built with '-O2 -march=x86-64-v2', the profile uses "
            "'-O2 -march=x86-64-v3'") in verdict.differences


def test_a_cpu_that_cannot_run_the_profiles_own_flags_is_refused(farm: Farm,
                                                                  tmp_path: Path) -> None:
    tree = copy_example_profile("desktop", tmp_path / "haswell-flags")
    (tree / "make.conf" / "02cpu").write_text('CFLAGS="-O2 -march=haswell"\nCPU_FLAGS_X86=""\n')
    with pytest.raises(InvalidInput, match=r"need .*avx2.*which its CPU \(x86-64-v2\)"):
        add_profile(farm, "small", tree, "x86-64-v2")
    assert farm.profiles.find("small") is None
    with pytest.raises(InvalidInput, match="which its CPU"):
        farm.set_profile_cpu("laptop", "x86-64")
    assert farm.profiles.get("laptop").cpu_spec == "x86-64-v2"
    cpuid2cpuflags = "CPU_FLAGS_X86: avx avx2 sse4_1 sse4_2 ssse3 popcnt sse3"
    changed = farm.set_profile_cpu("laptop", cpuid2cpuflags)
    assert "avx2" in changed.cpu_features
    with pytest.raises(InvalidInput, match="unknown CPU 'pentium9000'"):
        farm.set_profile_cpu("laptop", "pentium9000")


def test_a_chroot_profile_never_takes_a_binary_built_for_a_prefix(
    farm: Farm, laptop_packages: dict[str, Path], tmp_path: Path,
) -> None:
    twin = copy_example_profile("laptop", tmp_path / "twin")
    add_profile(farm, "twin", twin, "x86-64-v2")
    built = build_with(farm, "laptop", "hello", [laptop_packages["hello"],
                                                 laptop_packages["libgreet"]])
    assert farm.request_builds("twin", ["hello"])[0].id == built
    upload_root(farm, "twin", make_root(tmp_path / "stage3"))

    [chroot_build] = farm.request_builds("twin", ["hello"])
    assert chroot_build.id != built and chroot_build.state == BuildState.QUEUED
    [view] = farm.explain("hello", ["twin"])
    [verdict] = view.instances
    assert view.inputs.for_root and not verdict.same_key
    why = "built for a prefix, the profile builds for / (a chroot root)"
    assert verdict.differences == (why,)
    assert not verdict.fit.ok and why in verdict.fit.reasons
    assert farm.binhost_index("laptop").text.count("CPV: ") == 2
    assert "CPV: " not in farm.binhost_index("twin").text
    [laptop_view] = farm.explain("hello", ["laptop"])
    assert laptop_view.instances[0].same_key
