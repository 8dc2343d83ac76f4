"""The worker: leases builds from a farm over HTTP and runs them with real emerge.

The embedded worker of `binfarm serve` is this same code talking to loopback.
"""
