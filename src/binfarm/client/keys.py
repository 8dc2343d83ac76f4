"""This machine's trust in the farm's signing keys, as getuto gives it Gentoo's."""

from __future__ import annotations

from binfarm.api.client import FarmClient
from binfarm.client.machine import Machine
from binfarm.signing.trust import trust_farm_keys

__all__ = ["trust_farm"]


def trust_farm(client: FarmClient, machine: Machine) -> list[str]:
    """Import the farm's keys into the keyring Portage verifies in and certify them; keys
    the farm retired leave it. Returns the fingerprints trusted."""
    retired = [k.fingerprint for k in client.signing_keys() if k.state == "retired"]
    return trust_farm_keys(machine.verify_home(), client.public_keys(), retired)
