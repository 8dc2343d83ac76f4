"""Where the farm may POST a webhook: public addresses, or the networks an admin allows.

A webhook is an outbound request the farm makes for whoever asked for a build, so by
default it may not reach what only the farm can reach: loopback, link-local, private and
other special addresses (the local PostgreSQL, a cloud metadata service). The check is on
each address a name resolves to when the request is made, and again on the address
actually connected to when the notice is delivered (so DNS rebinding gains nothing).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from binfarm.errors import InvalidInput

__all__ = ["Destinations"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Destinations:
    def __init__(self, allowed: Iterable[str] = ()) -> None:
        try:
            self.allowed: tuple[_Network, ...] = tuple(
                ipaddress.ip_network(n, strict=False) for n in allowed)
        except ValueError as exc:
            raise InvalidInput(f"webhook_allow: {exc}") from exc

    def address_ok(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return ip.is_global or any(ip in network for network in self.allowed)

    def check_url(self, url: str) -> str:
        """`url`, if it is http(s) and every address its host resolves to may be posted to."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "http://[": an unclosed IPv6 bracket
            raise InvalidInput(f"webhook {url!r} is not a URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"a webhook is an http:// or https:// URL, not {parts.scheme!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"webhook host {parts.hostname!r} cannot be resolved: "
                               f"{exc}") from exc
        for *_rest, sockaddr in found:
            if not self.address_ok(str(sockaddr[0])):
                raise InvalidInput(
                    f"webhook host {parts.hostname!r} is {sockaddr[0]}, which this farm does "
                    "not post to (loopback, link-local and private addresses are refused "
                    "unless the admin allows them: BINFARM_QUEUE__WEBHOOK_ALLOW)")
        return url
