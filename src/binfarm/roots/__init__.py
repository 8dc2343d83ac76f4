"""Build roots: what a profile builds in (a prefix, or a chroot root unpacked from a stage3)."""
