"""The tests gate with real emerge: a profile whose rule asks for tests promotes an instance
once a test run (FEATURES=test, a build of its own that packages nothing) passed; a package
whose test suite fails stays in testing, and the rule says why. No USE=test binary is ever
listed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.builders import FarmProcess, repo_profile_tree, small_repo, wait_until

_INSTALL = 'S="${WORKDIR}"\nsrc_install() { insinto /usr/share/${PN}; newins - x <<<x; }\n'
_EBUILDS = {
    # IUSE=test: its test run's key differs from its build's (USE=test).
    "app-misc/sound-1.0": 'IUSE="test"\nRESTRICT="!test? ( test )"\n'
                          'src_test() { [[ $(( 2 + 2 )) == 4 ]] || die "2+2 is not 4"; }\n',
    # No IUSE=test: FEATURES=test runs src_test all the same, the build key is unchanged.
    "app-misc/cracked-1.0": 'src_test() { die "2+2=5"; }\n',
}


def _repo(base: Path) -> Path:
    return small_repo(base, "gate", {cpv: f'KEYWORDS="amd64"\n{body}{_INSTALL}'
                                     for cpv, body in _EBUILDS.items()})


def _listed(farm: FarmProcess, channel: str) -> dict[str, str]:
    """{CPV: USE} of what the gate profile's channel lists."""
    suffix = "" if channel == "stable" else f"/{channel}"
    text = httpx.get(f"{farm.url}/binhost/gate{suffix}/Packages", headers=farm.auth).text
    blocks = [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
              for block in text.split("\n\n")]
    return {b["CPV"]: b.get("USE", "") for b in blocks if "CPV" in b}


def _request(farm: FarmProcess, atom: str) -> None:
    done = farm.cli("request", atom, "--profile", "gate", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_passing_test_run_promotes_and_a_failing_one_holds_and_says_why(
    example_farm: FarmProcess, tmp_path: Path,
) -> None:
    farm = example_farm
    repo = _repo(tmp_path)
    assert farm.cli("repo", "add", "gate", str(repo)).returncode == 0
    tree = repo_profile_tree(tmp_path / "gate-tree", repo, "gate")
    added = farm.cli("profile", "add", "gate", str(tree))
    assert added.returncode == 0, added.stderr
    ruled = farm.cli("profile", "rollout", "gate", "--tests")
    said = " ".join(ruled.stdout.split())
    assert ruled.returncode == 0 and "once its test suite passed (FEATURES=test)" in said, said

    _request(farm, "app-misc/sound")
    assert "app-misc/sound-1.0" in _listed(farm, "testing")  # this read queued its test run
    wait_until(lambda: "app-misc/sound-1.0" in _listed(farm, "stable"), 300,
               "sound promoted once its test run passed")
    builds = [json.loads(line) for line in farm.cli("builds", "--json").stdout.splitlines()]
    [run] = [b for b in builds if b["package"] == "app-misc/sound-1.0"
             and "test" in b["env"].get("FEATURES", "")]
    assert run["state"] == "succeeded", run

    _request(farm, "app-misc/cracked")
    assert "app-misc/cracked-1.0" in _listed(farm, "testing")

    def failed() -> str | None:
        rule = httpx.get(f"{farm.url}/api/v1/profiles/gate/rollout", headers=farm.auth).json()
        said = [w for p in rule["pending"] for w in p["waits_for"]
                if p["instance"]["cpv"] == "app-misc/cracked-1.0"]
        return next((w for w in said if w.startswith("tests failed in build")), None)

    said = wait_until(failed, 300, "the cracked package's test run failed")
    assert said.endswith("app-misc/cracked-1.0::gate failed in its test phase: 2+2=5"), said
    shown = farm.cli("profile", "rollout", "gate")
    assert shown.returncode == 0 and "waits for" in shown.stdout, shown.stdout
    assert "app-misc/cracked-1.0" not in _listed(farm, "stable")
    for channel in ("testing", "stable"):
        assert all("test" not in use.split() for use in _listed(farm, channel).values())
