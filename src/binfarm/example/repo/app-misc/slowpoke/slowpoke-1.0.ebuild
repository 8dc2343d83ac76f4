# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="A package whose build takes a while, for tests that interrupt builds"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
src_compile() {
	einfo "slowpoke: compiling for 12 seconds"
	sleep 12
	emake CC="$(ex-getCC)" CFLAGS="${CFLAGS}" LDFLAGS="${LDFLAGS}"
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
