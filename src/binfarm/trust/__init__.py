"""Trust boundaries: what a requester, a host or a worker may hand the farm (pure).

Everything here decides on values alone: a build's environment overrides, the compiler
flags and MAKEOPTS inside them, and the configuration tree a fleet machine sends. What
passes can reach Portage or a shell without running anyone's code.
"""
