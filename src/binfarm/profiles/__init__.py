"""Profiles: what a machine type is (its Portage configuration tree and how it is named)."""
