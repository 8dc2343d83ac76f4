"""What a failed build says: the package that died last, its phase and its message, read
from emerge's log as ebuild.sh's die() writes it."""

from __future__ import annotations

from pathlib import Path

from binfarm.gentoo.emerge import failure_of

_LOG = """\
>>> Emerging (1 of 2) dev-libs/libgreet-1.0::example
 * ERROR: dev-libs/libgreet-1.0::example failed (compile phase):
 *   an earlier failure, retried
 *
>>> Running source test suite
 * ERROR: app-misc/cracked-1.0::gate failed (test phase):
 *   2+2=5
 *
 * Call stack:
 *     ebuild.sh, line  136:  Called src_test
"""


def test_the_last_package_that_died_says_where_and_why(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text(_LOG)
    assert failure_of(log) == "app-misc/cracked-1.0::gate failed in its test phase: 2+2=5"


def test_a_log_without_a_die_says_nothing(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text('>>> emerge: there are no ebuilds to satisfy "foo"\n')
    assert failure_of(log) is None
