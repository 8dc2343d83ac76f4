"""The parent side of the Portage helper: one child per call, with a timeout.

A call runs `python -m binfarm.gentoo.helper` in the node's environment and maps its reply
onto binfarm's error families, as httpx maps transport errors where they enter.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binfarm.errors import InvalidInput, NotFound, Unavailable
from binfarm.gentoo.configroot import node_env
from binfarm.gentoo.protocol import (
    HelperReply,
    HelperRequest,
    ProfileInfo,
    Resolution,
    SigningRequest,
)
from binfarm.keys.inputs import KeyInputs

__all__ = ["PlannedBuild", "PortageHelper", "RequestedPackage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedBuild:
    cpv: str
    deps: tuple[str, ...]
    key: str
    inputs: KeyInputs


@dataclass(frozen=True)
class RequestedPackage:
    resolution: Resolution
    inputs: KeyInputs
    # Indexes of the other atoms of the request this package depends on.
    needs: tuple[int, ...]


def _check_atom(atom: str) -> None:
    if not atom or len(atom) > 512 or any(c.isspace() or not c.isprintable() for c in atom):
        raise InvalidInput(f"{atom!r} is not an atom (one word, like app-misc/hello)")


class PortageHelper:
    """Asks Portage about one node at a time; every method blocks up to `timeout_s`."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def inspect_profile(self, node: Path) -> ProfileInfo:
        """Portage's evaluation of the node's profile; InvalidInput with its complaints."""
        return ProfileInfo.model_validate(self._call(node, HelperRequest(op="inspect_profile")))

    def resolve(self, node: Path, atom: str, env: Mapping[str, str] | None = None) -> Resolution:
        """The best visible ebuild for `atom`; InvalidInput or NotFound when there is none."""
        _check_atom(atom)
        request = HelperRequest(op="resolve", atom=atom)
        return Resolution.model_validate(self._call(node, request, env))

    def prepare_request(self, node: Path, atoms: list[str],
                        env: Mapping[str, str] | None = None) -> list[RequestedPackage]:
        """Each atom's resolution, build key inputs and which of the others it depends on,
        in one helper call (Portage loads once, not once per atom)."""
        for atom in atoms:
            _check_atom(atom)
        reply = self._call(node, HelperRequest(op="prepare_request", cpvs=atoms), env)
        return [RequestedPackage(Resolution.model_validate(p["resolution"]),
                                 KeyInputs.from_json(p["inputs"]), tuple(p["needs"]))
                for p in reply["packages"]]

    def plan(self, node: Path, atoms: list[str]) -> list[PlannedBuild]:
        """Everything `atoms` pull in on a fresh machine of the node's profile, in
        Portage's merge order, each with its dependencies in the plan and its key."""
        reply = self._call(node, HelperRequest(op="plan", cpvs=atoms))
        return [PlannedBuild(p["cpv"], tuple(p["deps"]), p["key"],
                             KeyInputs.from_json(p["inputs"])) for p in reply["packages"]]

    def best_versions(self, node: Path, cps: list[str]) -> dict[str, str]:
        """The best visible version of each cat/pn for the node's profile ("" if none)."""
        request = HelperRequest(op="best_versions", cpvs=cps)
        return dict(self._call(node, request)["best"])

    def describe_binpkg(self, node: Path, path: Path, signing: SigningRequest | None = None
                        ) -> tuple[dict[str, str], KeyInputs]:
        """The Packages entry Portage writes for the package at `path`, and its key inputs;
        with `signing`, a copy signed by the farm is written to `signing.out` as well."""
        request = HelperRequest(op="describe_binpkg", path=str(path), signing=signing)
        reply = self._call(node, request)
        return dict(reply["entry"]), KeyInputs.from_json(reply["key_inputs"])

    def sign_binpkg(self, node: Path, path: Path, signing: SigningRequest) -> None:
        """Write a copy of the GPKG at `path`, signed by the farm, to `signing.out`."""
        self._call(node, HelperRequest(op="sign_binpkg", path=str(path), signing=signing))

    def key_inputs(self, node: Path, cpvs: list[str],
                   env: Mapping[str, str] | None = None) -> list[KeyInputs]:
        """What would go into a build of each of `cpvs` with the node's profile, with `env`
        overriding the profile as it would override emerge's."""
        reply = self._call(node, HelperRequest(op="key_inputs", cpvs=cpvs), env)
        return [KeyInputs.from_json(inputs) for inputs in reply["inputs"]]

    def _call(self, node: Path, request: HelperRequest,
              env: Mapping[str, str] | None = None) -> dict[str, Any]:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "binfarm.gentoo.helper"],
                input=request.model_dump_json(),
                capture_output=True,
                text=True,
                env={**node_env(node), **(env or {})},
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(
                f"Portage took longer than {self.timeout_s:.0f} s to {request.op}"
            ) from exc
        try:
            reply = HelperReply.model_validate_json(proc.stdout)
        except ValueError as exc:
            log.error("helper failed op=%s rc=%s stderr=%s", request.op, proc.returncode,
                      proc.stderr)
            raise Unavailable(
                f"the Portage helper failed ({request.op})", detail=proc.stderr[-2000:]
            ) from exc
        if reply.ok:
            return reply.result
        message = reply.error or "Portage refused"
        if reply.kind == "invalid":
            raise InvalidInput(message)
        if reply.kind == "not_found":
            raise NotFound(message)
        raise Unavailable(f"the Portage helper failed ({request.op})", detail=message)
