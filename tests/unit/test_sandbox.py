"""The command that enters a chroot root: overlay options, binds, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from binfarm.errors import InvalidInput
from binfarm.roots.sandbox import ROOT_ENV, Bind, ChrootTarget, Overlay, Sandbox


def overlay(tmp: Path) -> Overlay:
    return Overlay(lower=(tmp / "layers/0002", tmp / "layers/0001", tmp / "base"),
                   upper=tmp / "s/upper", work=tmp / "s/work", merged=tmp / "s/merged")


def around(argv: list[str], item: str) -> list[str]:
    """`item` with the argument before and after it."""
    at = argv.index(item)
    return argv[at - 1:at + 2]


def test_layers_are_stacked_newest_first_over_the_base(tmp_path: Path) -> None:
    options = overlay(tmp_path).options()
    assert options == (f"lowerdir={tmp_path}/layers/0002:{tmp_path}/layers/0001:"
                       f"{tmp_path}/base,upperdir={tmp_path}/s/upper,workdir={tmp_path}/s/work")


@pytest.mark.parametrize("bad", ["a,b", "a:b"])
def test_a_path_that_would_break_the_mount_options_is_refused(tmp_path: Path, bad: str) -> None:
    layered = Overlay(lower=(tmp_path / bad,), upper=tmp_path / "u", work=tmp_path / "w",
                      merged=tmp_path / "m")
    with pytest.raises(InvalidInput, match="may not hold"):
        layered.options()


def test_the_command_binds_read_only_unless_asked_and_clears_the_environment(
        tmp_path: Path) -> None:
    sandbox = Sandbox(overlay(tmp_path), (Bind(tmp_path / "repo", "/var/db/repos/x"),
                                          Bind(tmp_path / "pkgs", "/var/cache/binpkgs",
                                               writable=True)))
    target = ChrootTarget(sandbox, tmp_path / "pkgs")
    argv, env = target.command(["emerge", "--info"], {"USE": "-nls"})
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"]
    bwrap = argv[argv.index("bwrap"):]
    assert bwrap[1:3] == ["--bind", str(tmp_path / "s/merged")]
    assert around(bwrap, str(tmp_path / "repo")) == ["--ro-bind", str(tmp_path / "repo"),
                                                     "/var/db/repos/x"]
    assert around(bwrap, str(tmp_path / "pkgs")) == ["--bind", str(tmp_path / "pkgs"),
                                                     "/var/cache/binpkgs"]
    assert "--clearenv" in bwrap and "--die-with-parent" in bwrap
    assert around(bwrap, "USE") == ["--setenv", "USE", "-nls"]
    assert around(bwrap, "PATH") == ["--setenv", "PATH", ROOT_ENV["PATH"]]
    assert bwrap[-3:] == ["--", "emerge", "--info"]
    assert set(env) == {"PATH", "LANG"}
