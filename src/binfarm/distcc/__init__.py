"""A compile farm on distcc: the hosts the farm knows, their probes, slot leases, and what
the builds compile on them."""
