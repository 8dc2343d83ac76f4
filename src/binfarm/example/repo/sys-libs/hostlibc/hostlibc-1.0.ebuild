# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="The build machine's C library and dynamic loader: a stand-in for sys-libs/glibc"
HOMEPAGE="https://example.invalid/binfarm"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
# Nothing depends on it: an image names it, as a real image names sys-libs/glibc.
RESTRICT="strip binchecks"
S=${WORKDIR}
src_install() {
	local libc loader=/lib64/ld-linux-x86-64.so.2
	libc=$(realpath "$($(ex-getCC) -print-file-name=libc.so.6)") || die
	# Where the machine keeps them: the loader's own search path finds libc there.
	insinto "${libc%/*}"
	doins "${libc}"
	insinto "${loader%/*}"
	newins "$(realpath "${loader}")" "${loader##*/}"
	fperms 0755 "${libc}" "${loader}"
}
