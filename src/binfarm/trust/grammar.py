"""Value grammars for what reaches a build: compiler flags, MAKEOPTS, FEATURES, USE.

Compiler flags are checked one whitespace-separated word at a time (as make and the
ebuild split them) against the options gcc documents for code generation, optimisation,
debug information, warnings and macros. Whatever loads a file or runs a program is not in
the grammar, so it is refused: `-wrapper`, `-fplugin`, `-specs`, `-B`, `@file`, `-I`,
`-include`, `-Wp,`/`-Wa,`/`-Xlinker`, and `-Wl,` options outside a short list of linker
switches (no `--plugin`, `-rpath`, `-T`, `--dynamic-linker`). Values never hold `/`.
"""

from __future__ import annotations

import re
from typing import Final

from binfarm.errors import InvalidInput

__all__ = [
    "FLAG_VARIABLES",
    "REQUEST_FEATURES",
    "check_features",
    "check_flags",
    "check_makeopts",
    "check_tokens",
]

FLAG_VARIABLES: Final = ("CFLAGS", "CXXFLAGS", "FFLAGS", "FCFLAGS", "LDFLAGS")

_VALUE = r"[A-Za-z0-9_.+,-]+"
_COMPILER: Final = re.compile(
    r"-O[0-3sgz]?|-Ofast|-pipe|-pie|-no-pie|-s"
    rf"|-m(?:arch|tune|cpu|fpmath|abi)={_VALUE}"
    r"|-m[a-z0-9][a-z0-9.-]*(?:=[A-Za-z0-9_.,-]+)?"
    r"|-f(?!(?:no-)?(?:plugin|profile|auto-profile|dump|opt-info|callgraph-info|use-ld))"
    r"[a-z0-9][a-z0-9+-]*(?:=[A-Za-z0-9_.,+-]+)?"
    r"|-g(?:[0-3]|gdb[0-3]?|dwarf(?:-[2-5])?|split-dwarf|z(?:=[a-z]+)?|record-switches)?"
    r"|-W(?![lap],)(?:no-)?[a-z0-9][a-z0-9+=_.-]*"
    r"|-[DU][A-Za-z_][A-Za-z0-9_]*(?:=[A-Za-z0-9_]*)?"
    r"|--param=[a-z0-9-]+=[0-9]+"
)
_LINKER: Final = re.compile(
    r"-O[0-3]|--as-needed|--no-as-needed|--hash-style=(?:gnu|sysv|both)|--sort-common"
    r"|-z|now|relro|norelro|lazy|noexecstack|pack-relative-relocs|combreloc|separate-code"
    r"|(?:max|common)-page-size=[0-9]+|--gc-sections|--icf=(?:all|safe|none)"
    r"|--build-id(?:=(?:sha1|md5|uuid|fast|none))?|-s|--strip-all|--strip-debug"
    r"|--(?:en|dis)able-new-dtags|--compress-debug-sections=(?:none|zlib|zlib-gabi|zstd)"
    r"|--relax|--no-undefined|-Bsymbolic-functions|--threads(?:=[0-9]+)?"
    r"|--no-copy-dt-needed-entries|-znow|-zrelro"
)
_FUSE_LD: Final = re.compile(r"-fuse-ld=(?:bfd|gold|lld|mold)")
_MAKEOPTS: Final = re.compile(r"-j[0-9]{0,4}|-l[0-9]{1,4}(?:\.[0-9]+)?"
                              r"|--jobs(?:=[0-9]{1,4})?|--load-average(?:=[0-9]{1,4}(?:\.[0-9]+)?)?"
                              r"|[0-9]{1,4}(?:\.[0-9]+)?")
_TOKEN: Final = re.compile(r"-?[A-Za-z0-9_][A-Za-z0-9_.+@-]*")
_KEYWORD: Final = re.compile(r"-?(?:~?[a-z0-9_-]+|\*\*|~\*|\*)")
_LICENSE: Final = re.compile(r"-?@?(?:[A-Za-z0-9_][A-Za-z0-9_.+-]*|\*)")

# FEATURES a request or a host may set: what changes the package (so it is keyed) and
# tests. The rest (ccache, distcc, keepwork, the sandboxes) belongs to the worker.
REQUEST_FEATURES: Final = frozenset({
    "test", "test-fail-continue", "nostrip", "splitdebug", "compressdebug",
    "binpkg-docompress", "binpkg-dostrip", "installsources",
})


def _flag_ok(word: str, *, linker: bool) -> bool:
    if _FUSE_LD.fullmatch(word):
        return True
    if word.startswith("-Wl,"):
        return linker and all(_LINKER.fullmatch(part) for part in word[4:].split(","))
    return bool(_COMPILER.fullmatch(word))


def check_flags(name: str, value: str) -> str:
    """`value` as a compiler flag variable, if every word is a code-generation option."""
    for word in value.split():
        if not _flag_ok(word, linker=name == "LDFLAGS"):
            raise InvalidInput(
                f"{name}: {word!r} is not an option the farm accepts here (it takes "
                "code-generation options only: -O, -march/-mtune, -m..., -f..., -g..., "
                "-W..., -D/-U, --param=NAME=N, and in LDFLAGS a few -Wl, switches; nothing "
                "that loads a file or runs a program)")
    return value


def check_makeopts(value: str) -> str:
    """MAKEOPTS holding only -jN, -lN, --jobs[=N] and --load-average[=N]."""
    for word in value.split():
        if not _MAKEOPTS.fullmatch(word):
            raise InvalidInput(f"MAKEOPTS: {word!r} is not allowed: only -jN, -lN, "
                               "--jobs[=N] and --load-average[=N]")
    return value


def check_features(value: str, allowed: frozenset[str] = REQUEST_FEATURES) -> str:
    """FEATURES holding only the names in `allowed`, each optionally negated."""
    for word in value.split():
        if word.lstrip("-") not in allowed:
            raise InvalidInput(f"FEATURES: {word!r} is not allowed here (only "
                               f"{', '.join(sorted(allowed))}, or their negation)")
    return value


def check_tokens(name: str, value: str) -> str:
    """USE, CPU_FLAGS_X86 and USE_EXPAND-style lists, ACCEPT_KEYWORDS, ACCEPT_LICENSE."""
    pattern = {"ACCEPT_KEYWORDS": _KEYWORD, "ACCEPT_LICENSE": _LICENSE}.get(name, _TOKEN)
    for word in value.split():
        if not pattern.fullmatch(word):
            raise InvalidInput(f"{name}: {word!r} is not a valid entry")
    return value
