# @ECLASS: example-cc.eclass
# @MAINTAINER: binfarm@example.invalid
# @SUPPORTED_EAPIS: 8
# @BLURB: compiler and library helpers for the binfarm example packages
# @DESCRIPTION:
# A stand-in for toolchain-funcs: the example repository has no Gentoo eclasses.
case ${EAPI} in 8) ;; *) die "${ECLASS}: EAPI ${EAPI} unsupported" ;; esac
if [[ -z ${_EXAMPLE_CC_ECLASS} ]]; then
_EXAMPLE_CC_ECLASS=1
# @FUNCTION: ex-getCC
# @DESCRIPTION: the C compiler, as tc-getCC finds it.
ex-getCC() { echo "${CC:-${CHOST}-gcc}"; }
# @FUNCTION: ex-greet-flags
# @DESCRIPTION: compiler and linker flags to build against dev-libs/libgreet.
ex-greet-cppflags() { echo "-I${ESYSROOT}/usr/include"; }
ex-greet-ldflags() { echo "-L${ESYSROOT}/usr/$(get_libdir) -Wl,-rpath,${EPREFIX}/usr/$(get_libdir)"; }
fi
