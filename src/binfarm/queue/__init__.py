"""The build queue: requests in, leases out, outcomes recorded."""
