"""Build overrides: each allowed variable has a grammar, and code never gets through (F1)."""

from __future__ import annotations

import pytest

from binfarm.errors import InvalidInput
from binfarm.trust.overrides import check_env

# The review's payloads (F1, F2) and the other ways gcc, make and the linker run programs.
ATTACKS = [
    ("MAKEOPTS", "--eval=pwn:;id>/tmp/pwned"),
    ("MAKEOPTS", "-j2 --eval=x:;cp$${IFS}a$${IFS}b"),
    ("MAKEOPTS", "-f/tmp/evil.mk"),
    ("MAKEOPTS", "SHELL=/tmp/x"),
    ("CFLAGS", "-O2 -wrapper /bin/sh,-c,id"),
    ("CFLAGS", "-O2 -fplugin=/tmp/evil.so"),
    ("CFLAGS", "-fplugin=annobin"),
    ("CFLAGS", "-specs=/tmp/evil.specs"),
    ("CFLAGS", "-B/tmp/evil"),
    ("CFLAGS", "@/tmp/options"),
    ("CFLAGS", "-include /etc/shadow"),
    ("CFLAGS", "-I/tmp"),
    ("CFLAGS", "-fprofile-use=/tmp/p"),
    ("CFLAGS", "-Wp,-include,/etc/shadow"),
    ("CFLAGS", "-Wa,@/tmp/x"),
    ("CXXFLAGS", "-Xlinker --plugin"),
    ("FCFLAGS", "-fuse-ld=/tmp/ld"),
    ("LDFLAGS", "-Wl,--plugin,/tmp/p.so"),
    ("LDFLAGS", "-Wl,-rpath,/tmp"),
    ("LDFLAGS", "-Wl,--dynamic-linker=/tmp/ld.so"),
    ("LDFLAGS", "-Wl,-T,/tmp/script"),
    ("FEATURES", "ccache"),
    ("FEATURES", "distcc"),
    ("FEATURES", "-sandbox keepwork"),
    ("USE", "$(id)"),
    ("USE", "a;b"),
    ("ACCEPT_KEYWORDS", "~amd64 `id`"),
]


@pytest.mark.parametrize(("name", "value"), ATTACKS)
def test_an_override_that_could_run_code_is_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        check_env({name: value})


@pytest.mark.parametrize(("name", "value"), [
    ("MAKEOPTS", "-j8 -l4.5"),
    ("MAKEOPTS", "--jobs=3 --load-average=2"),
    ("MAKEOPTS", "-j 4"),
    ("CFLAGS", "-O2 -pipe -march=x86-64-v3 -mtune=znver3 -mno-avx512f -fomit-frame-pointer"),
    ("CFLAGS", "-O3 -flto=auto -fstack-protector-strong -D_FORTIFY_SOURCE=3 -ggdb3 -Wall"),
    ("CXXFLAGS", "-Os -fno-exceptions --param=l1-cache-size=32 -msse4.2"),
    ("LDFLAGS", "-Wl,-O1 -Wl,--as-needed -Wl,-z,now,-z,relro -fuse-ld=mold"),
    ("FEATURES", "test -splitdebug nostrip"),
    ("USE", "-nls ssl python_targets_python3_12"),
    ("CPU_FLAGS_X86", "avx2 sse4_2"),
    ("ACCEPT_KEYWORDS", "~amd64"),
    ("ACCEPT_LICENSE", "-* @FREE MIT"),
])
def test_what_admins_really_set_passes(name: str, value: str) -> None:
    assert check_env({name: value}) == {name: value}


def test_names_outside_the_list_and_control_characters_are_refused() -> None:
    assert check_env({"USE": "-nls", "MAKEOPTS": "-j2"}) == {"MAKEOPTS": "-j2", "USE": "-nls"}
    for name in ("PATH", "LD_PRELOAD", "PORTAGE_BASHRC", "EXTRA_ECONF", "CC"):
        with pytest.raises(InvalidInput, match=f"cannot override {name}"):
            check_env({name: "x"})
    with pytest.raises(InvalidInput, match="one printable line"):
        check_env({"USE": "a\nb"})
