# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="Tool with optional TLS support through libgreet (a USE-conditional dependency)"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
IUSE="ssl"
DEPEND="ssl? ( dev-libs/libgreet:= )"
RDEPEND="${DEPEND}"
src_compile() {
	emake CC="$(ex-getCC)" CFLAGS="${CFLAGS}" \
		CPPFLAGS="$(usex ssl "-DWITH_SSL $(ex-greet-cppflags)" '')" \
		LDFLAGS="${LDFLAGS} $(usex ssl "$(ex-greet-ldflags)" '')" \
		LIBS="$(usex ssl -lgreet '')"
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
