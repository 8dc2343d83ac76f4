"""Where an emerge run's time went, from the lines that announce each package."""

from __future__ import annotations

from binfarm.gentoo.timeline import breakdown, mark_of


def test_each_package_runs_from_its_announcement_to_the_next() -> None:
    lines = [(2.0, b">>> Emerging binary (1 of 3) dev-libs/libgreet-1.0::example\n"),
             (3.5, b">>> Emerging (2 of 3) sys-libs/zlib-1.3::gentoo\n"),
             (9.0, b">>> Emerging (3 of 3) app-misc/hello-1.0::example\n")]
    marks = [mark for at, line in lines if (mark := mark_of(line, at))]
    assert [(m.binary, m.cpv) for m in marks] == [(True, "dev-libs/libgreet-1.0"),
                                                  (False, "sys-libs/zlib-1.3"),
                                                  (False, "app-misc/hello-1.0")]
    assert breakdown(marks, 0.5, 12.0, ["app-misc/hello-1.0"]) == {
        "resolve": 1.5, "install_deps": 1.5, "compile_deps": 5.5, "compile": 3.0}


def test_a_run_that_merged_nothing_was_all_resolution() -> None:
    assert mark_of(b">>> Emerging the sky\n", 1.0) is None
    assert breakdown([], 1.0, 4.0, ["app-misc/hello-1.0"]) == {
        "resolve": 3.0, "install_deps": 0.0, "compile_deps": 0.0, "compile": 0.0}
