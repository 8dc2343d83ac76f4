# Copyright 2026 binfarm authors
# Distributed under the terms of the MIT license
EAPI=8
inherit example-cc
DESCRIPTION="Linked against libgreet through every slot-operator form an ebuild may write"
HOMEPAGE="https://example.invalid/binfarm"
SRC_URI="https://distfiles.example.invalid/${P}.tar.gz"
LICENSE="MIT"
KEYWORDS="amd64"
SLOT="0"
IUSE="+ssl"
# :SLOT= (hello has :=), also inside a USE-conditional and in an || group whose second
# branch is never installed, in DEPEND, RDEPEND and BDEPEND. (Portage refuses the built
# form :SLOT/SUBSLOT= in an ebuild: it is what a binary records.)
DEPEND="
	dev-libs/libgreet:0=
	ssl? ( dev-libs/libgreet:0= )
	|| ( dev-libs/libgreet:= app-misc/tool:= )
"
RDEPEND="${DEPEND}"
BDEPEND="dev-libs/libgreet:0="
src_compile() {
	emake CC="$(ex-getCC)" CFLAGS="${CFLAGS}" CPPFLAGS="$(ex-greet-cppflags)" \
		LDFLAGS="${LDFLAGS} $(ex-greet-ldflags)" LIBS="-lgreet"
}
src_install() {
	emake DESTDIR="${D}" PREFIX="${EPREFIX}/usr" install
}
