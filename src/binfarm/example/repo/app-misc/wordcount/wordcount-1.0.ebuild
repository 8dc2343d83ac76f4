# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="Word counter with a test suite (src_test)"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
IUSE="test"
RESTRICT="!test? ( test )"
src_compile() {
	emake CC="$(ex-getCC)" CFLAGS="${CFLAGS}" LDFLAGS="${LDFLAGS}"
}
src_test() {
	emake check
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
