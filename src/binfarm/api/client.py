"""FarmClient: the farm's HTTP API for the CLI and workers, with errors mapped back.

httpx errors become Unavailable where they enter; an error body becomes the family the
server named, so a caller handles a remote InvalidInput exactly as a local one.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from binfarm.api.models import (
    API_PREFIX,
    FINAL_STATES,
    BuildOut,
    CredentialOut,
    DistccActivityOut,
    DistccAddOut,
    DistccHostOut,
    DistccLeaseOut,
    DistccTask,
    ExplainOut,
    GcIn,
    GcOut,
    HostOut,
    HostRegisteredOut,
    InstanceDetail,
    InstanceOut,
    KeyRetiredOut,
    NewTokenOut,
    PinOut,
    PlanOut,
    ProfileOut,
    PublishedOut,
    RepositoryOut,
    RolledBackOut,
    RolloutEventOut,
    RolloutRuleOut,
    RootCopyIn,
    RootOut,
    SharedFileOut,
    SigningKeyOut,
    TokenOut,
    UsageOut,
    WorkerOut,
)
from binfarm.errors import BinfarmError, InvalidInput, Unavailable, family_of_kind

__all__ = ["FarmClient", "binhost_uri", "farm_uri", "tls_context"]


def tls_context(ca_file: Path | None, *, pinned: bool = False) -> ssl.SSLContext | bool:
    """How to check an https farm: against `ca_file` (a PEM CA bundle), or the system's
    CAs when None. `pinned`: `ca_file` is the farm's own certificate, trusted as itself
    (the embedded workers reach their own server, at whatever address it listens)."""
    if ca_file is None:
        return True
    if not ca_file.is_file():
        raise InvalidInput(f"--ca-cert {ca_file} is not a file")
    context = ssl.create_default_context(cafile=str(ca_file))
    if pinned:
        context.check_hostname = False
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context

class FarmClient:
    """One farm at `base_url`; each call blocks at most `timeout_s` per network step."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        """`verify`: how an https farm's certificate is checked (a context made by
        `tls_context`; the system's CAs by default)."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout_s), transport=transport,
                                  verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FarmClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- signing keys --------------------------------------------------------------------

    def public_keys(self) -> bytes:
        return self._call("GET", "/key").content

    def signing_keys(self) -> list[SigningKeyOut]:
        return [SigningKeyOut.model_validate(k) for k in self._call("GET", "/keys").json()]

    def rotate_key(self) -> SigningKeyOut:
        return SigningKeyOut.model_validate(self._call("POST", "/keys/rotate").json())

    def import_key(self, armored: bytes) -> SigningKeyOut:
        return SigningKeyOut.model_validate(self._call(
            "POST", "/keys/import", content=armored,
            headers={"Content-Type": "application/pgp-keys"}).json())

    def retire_key(self, fingerprint: str) -> KeyRetiredOut:
        return KeyRetiredOut.model_validate(self._call(
            "POST", f"/keys/{quote(fingerprint, safe='')}/retire").json())

    # -- profiles and repositories -------------------------------------------------------

    def health(self) -> dict[str, str]:
        return dict(self._call("GET", "/health").json())

    def list_repositories(self) -> list[RepositoryOut]:
        return [RepositoryOut.model_validate(r) for r in self._call("GET", "/repositories").json()]

    def add_repository(self, name: str, location: str,
                       distfiles: str | None = None) -> RepositoryOut:
        body = {"name": name, "location": location, "distfiles": distfiles}
        return RepositoryOut.model_validate(self._call("POST", "/repositories",
                                                       json=body).json())

    def remove_repository(self, name: str) -> RepositoryOut:
        return RepositoryOut.model_validate(self._call("DELETE", f"/repositories/{name}").json())

    def list_profiles(self) -> list[ProfileOut]:
        return [ProfileOut.model_validate(p) for p in self._call("GET", "/profiles").json()]

    def get_profile(self, name: str) -> ProfileOut:
        return ProfileOut.model_validate(self._call("GET", f"/profiles/{name}").json())

    def add_profile(self, name: str, packed_tree: bytes, make_profile: str | None, *,
                    cpu: str | None = None, exact_flags: bool = False) -> ProfileOut:
        response = self._send_tree("PUT", f"/profiles/{name}", packed_tree,
                                   make_profile=make_profile, cpu=cpu, exact_flags=exact_flags)
        return ProfileOut.model_validate(response.json())

    def set_profile_cpu(self, name: str, cpu: str | None,
                        exact_flags: bool | None = None) -> ProfileOut:
        body = {"cpu": cpu, "exact_flags": exact_flags}
        return ProfileOut.model_validate(self._call("PUT", f"/profiles/{name}/cpu",
                                                    json=body).json())

    def explain(self, atom: str, profiles: list[str]) -> list[ExplainOut]:
        response = self._call("GET", "/explain", params={"atom": atom, "profile": profiles})
        return [ExplainOut.model_validate(e) for e in response.json()]

    def get_instance(self, ref: str) -> InstanceDetail:
        return InstanceDetail.model_validate(self._call("GET", f"/instances/{ref}").json())

    def set_world(self, name: str, atoms: list[str]) -> ProfileOut:
        return ProfileOut.model_validate(self._call("PUT", f"/profiles/{name}/world",
                                                    json={"atoms": atoms}).json())

    def plan(self, profiles: list[str], *, jobs: int = 1, enqueue: bool = False,
             timeout_s: float = 3600.0) -> PlanOut:
        body = {"profiles": profiles, "jobs": jobs, "enqueue": enqueue}
        return PlanOut.model_validate(self._call("POST", "/plan", json=body,
                                                 timeout=timeout_s).json())

    def profile_tree(self, name: str) -> bytes:
        return self._call("GET", f"/profiles/{name}/tree").content

    # -- builds ------------------------------------------------------------------------

    def request_builds(self, profile: str, atoms: list[str], *,
                       env: dict[str, str] | None = None, priority: int = 0,
                       requester: str | None = None,
                       webhook: str | None = None) -> list[BuildOut]:
        body = {"profile": profile, "atoms": atoms, "env": env or {}, "priority": priority,
                "requester": requester, "webhook": webhook}
        response = self._call("POST", "/builds", json=body)
        return [BuildOut.model_validate(b) for b in response.json()]

    def list_builds(self, limit: int = 200, states: list[str] | None = None) -> list[BuildOut]:
        params: dict[str, Any] = {"limit": limit}
        if states:
            params["state"] = states
        response = self._call("GET", "/builds", params=params)
        return [BuildOut.model_validate(b) for b in response.json()]

    def cancel(self, build_id: int) -> BuildOut:
        return BuildOut.model_validate(self._call("POST", f"/builds/{build_id}/cancel").json())

    def requeue(self, build_id: int) -> BuildOut:
        return BuildOut.model_validate(self._call("POST", f"/builds/{build_id}/requeue").json())

    def set_priority(self, build_id: int, priority: int) -> BuildOut:
        return BuildOut.model_validate(self._call(
            "PUT", f"/builds/{build_id}/priority", json={"priority": priority}).json())

    def list_workers(self) -> list[WorkerOut]:
        return [WorkerOut.model_validate(w) for w in self._call("GET", "/workers").json()]

    def create_token(self, name: str, role: str, profile: str | None = None,
                     networks: list[str] | None = None) -> NewTokenOut:
        body = {"name": name, "role": role, "profile": profile, "networks": networks or []}
        return NewTokenOut.model_validate(self._call("POST", "/tokens", json=body).json())

    def list_tokens(self) -> list[TokenOut]:
        return [TokenOut.model_validate(t) for t in self._call("GET", "/tokens").json()]

    def revoke_token(self, name_or_id: str) -> TokenOut:
        return TokenOut.model_validate(self._call("DELETE", f"/tokens/{name_or_id}").json())

    def get_build(self, build_id: int) -> BuildOut:
        return BuildOut.model_validate(self._call("GET", f"/builds/{build_id}").json())

    def wait_for_builds(self, build_ids: Iterable[int], *, poll_s: float = 1.0,
                        progress: Callable[[list[BuildOut]], None] | None = None,
                        ) -> list[BuildOut]:
        """Poll until every build is final; `progress` sees each round's builds."""
        ids = list(dict.fromkeys(build_ids))
        while True:
            latest = [self.get_build(i) for i in ids]
            if progress is not None:
                progress(latest)
            if all(b.state in FINAL_STATES for b in latest):
                return latest
            time.sleep(poll_s)

    def read_log(self, build_id: int, offset: int = 0) -> bytes:
        return self._call("GET", f"/builds/{build_id}/log", params={"offset": offset}).content

    # -- hosts ---------------------------------------------------------------------------

    def register_host(self, name: str, packed_tree: bytes, make_profile: str | None, *,
                      arch: str, cpu_features: list[str],
                      base: str | None = None, channel: str = "stable") -> HostRegisteredOut:
        response = self._send_tree("POST", f"/hosts/{name}", packed_tree, arch=arch,
                                   cpu_features=" ".join(cpu_features),
                                   make_profile=make_profile, base=base, channel=channel)
        return HostRegisteredOut.model_validate(response.json())

    def update_host_config(self, name: str, packed_tree: bytes,
                           make_profile: str | None) -> HostOut:
        response = self._send_tree("PUT", f"/hosts/{name}/config", packed_tree,
                                   make_profile=make_profile)
        return HostOut.model_validate(response.json())

    def report_host(self, name: str, result: str, installed: list[str],
                    binpkgs: dict[str, str]) -> HostOut:
        body = {"result": result, "installed": installed,
                "binpkgs": [{"cpv": c, "md5": m} for c, m in sorted(binpkgs.items())]}
        return HostOut.model_validate(self._call("POST", f"/hosts/{name}/report",
                                                 json=body).json())

    def shared_layer(self, name: str) -> list[SharedFileOut]:
        response = self._call("GET", f"/hosts/{name}/shared")
        return [SharedFileOut.model_validate(f) for f in response.json()]

    def list_hosts(self) -> list[HostOut]:
        return [HostOut.model_validate(h) for h in self._call("GET", "/hosts").json()]

    # -- the worker protocol -------------------------------------------------------------

    def register_worker(self, name: str, arch: str, cpu_features: list[str],
                        slots: int, *, chroot: bool = False,
                        compiler: str | None = None) -> WorkerOut:
        body = {"name": name, "arch": arch, "cpu_features": cpu_features, "slots": slots,
                "chroot": chroot, "compiler": compiler}
        return WorkerOut.model_validate(self._call("POST", "/worker/register", json=body).json())

    def binhost_credential(self, worker: str, profile: str) -> CredentialOut:
        body = {"worker": worker, "profile": profile}
        return CredentialOut.model_validate(self._call("POST", "/worker/credential",
                                                       json=body).json())

    def move_host(self, name: str, profile: str) -> HostOut:
        return HostOut.model_validate(self._call("PUT", f"/hosts/{name}/profile",
                                                 json={"profile": profile}).json())

    def set_host_channel(self, name: str, channel: str) -> HostOut:
        return HostOut.model_validate(self._call("PUT", f"/hosts/{name}/channel",
                                                 json={"channel": channel}).json())

    # -- rollout -------------------------------------------------------------------------

    def rollout_rule(self, profile: str) -> RolloutRuleOut:
        return RolloutRuleOut.model_validate(
            self._call("GET", f"/profiles/{profile}/rollout").json())

    def set_rollout_rule(self, profile: str, soak: str, canaries: int,
                         tests: bool) -> RolloutRuleOut:
        return RolloutRuleOut.model_validate(self._call(
            "PUT", f"/profiles/{profile}/rollout",
            json={"soak": soak, "canaries": canaries, "tests": tests}).json())

    def report_canary(self, host: str, installed: dict[str, str], verdict: str,
                      output: str) -> list[InstanceOut]:
        """A health check's verdict on what the host installed ({cat/pf: MD5})."""
        body = {"installed": [{"cpv": c, "md5": m} for c, m in sorted(installed.items())],
                "verdict": verdict, "output": output[-20_000:]}
        return [InstanceOut.model_validate(i) for i in self._call(
            "POST", f"/hosts/{host}/canary", json=body).json()]

    def promote(self, profile: str, ref: str) -> list[InstanceOut]:
        return [InstanceOut.model_validate(i) for i in self._call(
            "POST", f"/profiles/{profile}/promote", json={"ref": ref}).json()]

    def withdraw(self, profile: str, ref: str, reason: str) -> list[InstanceOut]:
        return [InstanceOut.model_validate(i) for i in self._call(
            "POST", f"/profiles/{profile}/withdraw", json={"ref": ref, "reason": reason}).json()]

    def rollback(self, profile: str, atom: str) -> list[RolledBackOut]:
        return [RolledBackOut.model_validate(i) for i in self._call(
            "POST", f"/profiles/{profile}/rollback", json={"atom": atom}).json()]

    def rollout_history(self, profile: str, atom: str | None) -> list[RolloutEventOut]:
        params = {"atom": atom} if atom else {}
        return [RolloutEventOut.model_validate(e) for e in self._call(
            "GET", f"/profiles/{profile}/history", params=params).json()]

    def collect_garbage(self, request: GcIn) -> GcOut:
        return GcOut.model_validate(self._call("POST", "/store/gc",
                                               json=request.model_dump()).json())

    def pins(self) -> list[PinOut]:
        return [PinOut.model_validate(p) for p in self._call("GET", "/store/pins").json()]

    def pin(self, ref: str, reason: str) -> PinOut:
        return PinOut.model_validate(self._call("POST", "/store/pins",
                                                json={"ref": ref, "reason": reason}).json())

    def unpin(self, ref: str) -> list[PinOut]:
        return [PinOut.model_validate(p) for p in self._call(
            "POST", "/store/unpin", json={"ref": ref}).json()]

    def store_usage(self) -> UsageOut:
        return UsageOut.model_validate(self._call("GET", "/store/usage").json())

    def publish(self) -> list[PublishedOut]:
        return [PublishedOut.model_validate(p) for p in self._call("POST", "/publish").json()]

    def nginx_config(self, listen: str, farm_url: str) -> str:
        return self._call("GET", "/publish/nginx",
                          params={"listen": listen, "farm_url": farm_url}).text

    def lease(self, worker: str, wait_s: float = 0.0) -> BuildOut | None:
        """The next build, waiting up to `wait_s` on the server (the timeout allows it)."""
        response = self._call("POST", "/worker/lease", json={"worker": worker, "wait_s": wait_s},
                              timeout=self._http.timeout.read + wait_s)
        return None if response.status_code == 204 else BuildOut.model_validate(response.json())

    def heartbeat(self, build_id: int, worker: str,
                  distcc: list[DistccTask] | None = None) -> None:
        body: dict[str, Any] = {"worker": worker}
        if distcc is not None:
            body["distcc"] = [task.model_dump() for task in distcc]
        self._call("POST", f"/builds/{build_id}/heartbeat", json=body)

    def lease_distcc(self, build_id: int, worker: str, want: int) -> DistccLeaseOut:
        return DistccLeaseOut.model_validate(self._call(
            "POST", f"/builds/{build_id}/distcc", json={"worker": worker, "want": want}).json())

    # -- distcc hosts ----------------------------------------------------------------

    def add_distcc_host(self, host: str, slots: int) -> DistccAddOut:
        return DistccAddOut.model_validate(self._call(
            "POST", "/distcc/hosts", json={"host": host, "slots": slots}).json())

    def distcc_hosts(self) -> list[DistccHostOut]:
        return [DistccHostOut.model_validate(h)
                for h in self._call("GET", "/distcc/hosts").json()]

    def distcc_host(self, name: str) -> DistccHostOut:
        return DistccHostOut.model_validate(self._call("GET", f"/distcc/hosts/{name}").json())

    def drain_distcc_host(self, name: str, *, undo: bool = False) -> DistccHostOut:
        return DistccHostOut.model_validate(self._call(
            "POST", f"/distcc/hosts/{name}/drain", params={"undo": undo}).json())

    def remove_distcc_host(self, name: str) -> DistccHostOut:
        return DistccHostOut.model_validate(self._call("DELETE",
                                                       f"/distcc/hosts/{name}").json())

    def probe_distcc_hosts(self, host: str | None = None) -> list[DistccHostOut]:
        params = {"host": host} if host else {}
        return [DistccHostOut.model_validate(h) for h in self._call(
            "POST", "/distcc/probe", params=params,
            timeout=self._http.timeout.read + 120).json()]

    def distcc_activity(self) -> list[DistccActivityOut]:
        return [DistccActivityOut.model_validate(a)
                for a in self._call("GET", "/distcc/activity").json()]

    def append_log(self, build_id: int, worker: str, chunk: bytes) -> None:
        self._call("POST", f"/builds/{build_id}/log", content=chunk, params={"worker": worker},
                   headers={"Content-Type": "application/octet-stream"})

    def upload_package(self, build_id: int, worker: str, path: Path) -> InstanceOut:
        """Stream a package up with its SHA-256, so damage in transit is refused."""
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        with open(path, "rb") as handle:
            response = self._call(
                "POST", f"/builds/{build_id}/packages", content=handle,
                params={"worker": worker, "filename": path.name, "sha256": digest.hexdigest()},
                headers={"Content-Type": "application/octet-stream"},
            )
        return InstanceOut.model_validate(response.json())

    def finish(self, build_id: int, worker: str, *, ok: bool, error: str | None,
               timings: dict[str, float] | None = None) -> BuildOut:
        body = {"worker": worker, "ok": ok, "error": error, "timings": timings or {}}
        return BuildOut.model_validate(self._call("POST", f"/builds/{build_id}/finish",
                                                  json=body).json())

    # -- chroot build roots ----------------------------------------------------------------

    def set_root(self, profile: str, chunks: Iterable[bytes], source: str) -> RootOut:
        response = self._call("PUT", f"/profiles/{profile}/root", content=chunks,
                              params={"source": source},
                              headers={"Content-Type": "application/x-tar"})
        return RootOut.model_validate(response.json())

    def get_root(self, profile: str) -> RootOut:
        return RootOut.model_validate(self._call("GET", f"/profiles/{profile}/root").json())

    def list_roots(self) -> list[RootOut]:
        return [RootOut.model_validate(r) for r in self._call("GET", "/roots").json()]

    def delete_root(self, profile: str) -> RootOut:
        return RootOut.model_validate(self._call("DELETE", f"/profiles/{profile}/root").json())

    def update_root(self, profile: str) -> RootOut:
        return RootOut.model_validate(
            self._call("POST", f"/profiles/{profile}/root/update").json())

    def download_root_archive(self, profile: str, dest: Path) -> None:
        try:
            with self._http.stream("GET", f"{API_PREFIX}/profiles/{profile}/root/archive") as got:
                if got.status_code >= 400:
                    got.read()
                    raise _error_from(got)
                with open(dest, "wb") as handle:
                    for chunk in got.iter_bytes(1 << 20):
                        handle.write(chunk)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the farm at {self.base_url}: {exc}") from exc

    def report_root_copy(self, profile: str, copy: RootCopyIn) -> None:
        self._call("PUT", f"/profiles/{profile}/root/copies", json=copy.model_dump())

    # -- plumbing ------------------------------------------------------------------------

    def _send_tree(self, method: str, path: str, packed_tree: bytes,
                   **params: str | bool | None) -> httpx.Response:
        """Upload a packed configuration tree; parameters that are None are left out."""
        return self._call(method, path, content=packed_tree,
                          params={k: v for k, v in params.items() if v is not None},
                          headers={"Content-Type": "application/gzip"})

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, API_PREFIX + path, **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the farm at {self.base_url}: {exc}") from exc
        if response.status_code < 400:
            return response
        raise _error_from(response)


def binhost_uri(server: str, profile: str, user: str, token: str | None,
                channel: str = "stable") -> str:
    """A profile's binhost URL (of its stable channel, or `/testing`) with `user:token@`
    credentials: Portage's fetcher sends them as HTTP Basic auth."""
    suffix = "" if channel == "stable" else f"/{channel}"
    return farm_uri(server, f"binhost/{profile}{suffix}", user, token)


def farm_uri(server: str, path: str, user: str, token: str | None) -> str:
    """`server`/`path` with `user:token@` credentials (Basic auth for Portage and wget)."""
    parts = urlsplit(server.rstrip("/"))
    auth = f"{quote(user, safe='')}:{quote(token, safe='')}@" if token else ""
    return urlunsplit((parts.scheme, f"{auth}{parts.netloc}", f"{parts.path}/{path}", "", ""))


def _error_from(response: httpx.Response) -> BinfarmError:
    try:
        body = response.json()
        kind, message = body["kind"], body["error"]
    except (ValueError, KeyError, TypeError):
        kind, message = "", f"HTTP {response.status_code}: {response.text[:500]}"
    family = family_of_kind(kind)
    if response.status_code >= 500 and family is BinfarmError:
        return Unavailable(f"the farm failed: {message}")
    return family(message)
