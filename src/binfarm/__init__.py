"""binfarm: a build farm and binary package host for fleets of Gentoo machines."""

__all__ = ["__version__"]

__version__ = "0.1.0"
