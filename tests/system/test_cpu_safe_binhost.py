"""Build keys and CPU fit end to end: real builds, the CLI, and what the indexes list."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.builders import FarmProcess, copy_example_profile


def _index_paths(farm: FarmProcess, profile: str) -> list[str]:
    text = httpx.get(f"{farm.url}/binhost/{profile}/Packages").text
    return [line[6:] for line in text.splitlines() if line.startswith("PATH: ")]


def _build_id(cli_stdout: str) -> str:
    return cli_stdout.split()[1].rstrip(":")


def test_the_laptop_never_gets_the_desktops_avx2_build(example_farm: FarmProcess) -> None:
    ids = {}
    for profile in ("desktop", "laptop"):
        done = example_farm.cli("request", "app-misc/fastcalc", "--profile", profile, "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        ids[profile] = _build_id(done.stdout)
    assert ids["desktop"] != ids["laptop"]  # the laptop got its own build

    laptop_cpu = set(httpx.get(f"{example_farm.url}/api/v1/profiles/laptop",
                               headers=example_farm.auth).json()
                     ["cpu_features"])
    needs = {}
    for path in _index_paths(example_farm, "laptop"):
        detail = httpx.get(f"{example_farm.url}/api/v1/instances/{path}",
                           headers=example_farm.auth).json()
        assert set(detail["required_isa"]) <= laptop_cpu, detail
        needs[path] = detail
    fastcalcs = [d for d in needs.values() if d["cpv"] == "app-misc/fastcalc-1.0"]
    assert [d["key_inputs"]["use"] for d in fastcalcs] == [[]]
    desktop_fastcalc = [
        httpx.get(f"{example_farm.url}/api/v1/instances/{path}",
                  headers=example_farm.auth).json()
        for path in _index_paths(example_farm, "desktop") if "/fastcalc/" in path
    ]
    assert any("avx2" in d["required_isa"] and d["key_inputs"]["use"] == ["cpu_flags_x86_avx2"]
               for d in desktop_fastcalc)

    explained = example_farm.cli("explain", "app-misc/fastcalc", "--profile", "laptop",
                                 "--profile", "desktop")
    assert explained.returncode == 0, explained.stderr
    assert "which the profile's CPU (x86-64-v2) does not have" in explained.stdout
    assert "same key: this is the profile's binary" in explained.stdout
    assert "USE differs: the profile wants -cpu_flags_x86_avx2" in explained.stdout

    avx2 = next(d for d in desktop_fastcalc if "avx2" in d["required_isa"])
    shown = example_farm.cli("show", avx2["sha256"][:12])
    assert shown.returncode == 0, shown.stderr
    for text in ("cpu_flags_x86_avx2", "-O2 -march=x86-64-v3", avx2["key"], "needs CPU"):
        assert text in shown.stdout


def test_profiles_that_agree_on_a_package_get_one_build(example_farm: FarmProcess,
                                                        tmp_path: Path) -> None:
    twin = copy_example_profile("laptop", tmp_path / "twin")
    (twin / "make.conf" / "03twin").write_text(
        'CFLAGS="-O2 -march=x86-64-v2"\nCXXFLAGS="${CFLAGS}"\nUSE="${USE} gtk"\n')
    added = example_farm.cli("profile", "add", "twin", str(twin), "--cpu", "x86-64-v2")
    assert added.returncode == 0, added.stderr
    first = example_farm.cli("request", "app-misc/tool", "--profile", "laptop", "--wait")
    second = example_farm.cli("request", "app-misc/tool", "--profile", "twin", "--wait")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert _build_id(first.stdout) == _build_id(second.stdout)


def test_a_profile_whose_flags_outrun_its_cpu_is_refused(example_farm: FarmProcess,
                                                         tmp_path: Path) -> None:
    tree = copy_example_profile("desktop", tmp_path / "fast")
    refused = example_farm.cli("profile", "add", "fast", str(tree), "--cpu", "x86-64-v2")
    assert refused.returncode == 1
    assert "need avx, avx2" in refused.stderr and "which its CPU (x86-64-v2)" in refused.stderr
    changed = example_farm.cli("profile", "cpu", "laptop", "haswell")
    assert changed.returncode == 0 and "haswell" in changed.stdout
    back = example_farm.cli("profile", "cpu", "laptop", "x86-64-v2")
    assert back.returncode == 0 and "x86-64-v2" in back.stdout
