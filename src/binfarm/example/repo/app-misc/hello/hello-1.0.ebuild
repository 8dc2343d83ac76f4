# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="Greeter linked against libgreet, with configure-time nls and a debug build"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
IUSE="debug +nls"
DEPEND="dev-libs/libgreet:="
RDEPEND="${DEPEND}"
src_configure() {
	econf $(use_enable nls) $(use_enable debug)
}
src_compile() {
	emake CC="$(ex-getCC)" \
		CFLAGS="${CFLAGS} $(usex debug '-O0 -g3' '')" \
		CPPFLAGS="$(ex-greet-cppflags)" \
		LDFLAGS="${LDFLAGS} $(ex-greet-ldflags)" LIBS="-lgreet"
}
src_install() {
	emake DESTDIR="${D}" install
}
