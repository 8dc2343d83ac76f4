"""Hosts: the machines that install from the farm. `registry` records them (profile,
CPU, token, last report, installed packages); `enrollment` holds their use cases."""

from binfarm.hosts.registry import Host, HostRegistry, check_host_name

__all__ = ["Host", "HostRegistry", "check_host_name"]
