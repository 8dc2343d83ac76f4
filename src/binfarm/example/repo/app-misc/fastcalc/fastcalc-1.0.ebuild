# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="Calculator with an AVX2 code path chosen by CPU_FLAGS_X86"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
IUSE="cpu_flags_x86_avx2"
src_compile() {
	emake CC="$(ex-getCC)" LDFLAGS="${LDFLAGS}" \
		CFLAGS="${CFLAGS} $(usex cpu_flags_x86_avx2 '-mavx2 -DUSE_AVX2' '')"
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
