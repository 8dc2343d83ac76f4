"""Who may do what, over real HTTP: roles, profiles, networks, revocation."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.builders import FarmProcess


def _token(farm: FarmProcess, *args: str) -> str:
    created = farm.cli("token", "create", *args)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def _ask(farm: FarmProcess, token: str | None, profile: str = "laptop") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{farm.url}/api/v1/builds", headers=headers, timeout=120,
                      json={"profile": profile, "atoms": ["app-misc/wordcount"]})


def test_roles_profiles_networks_and_revocation(example_farm: FarmProcess) -> None:
    client = _token(example_farm, "--role", "client", "--profile", "laptop", "--name", "lap1")
    worker = _token(example_farm, "--role", "worker", "--name", "builder9")
    faraway = _token(example_farm, "--role", "admin", "--name", "vpn", "--network", "10.0.0.0/8")

    assert _ask(example_farm, client).status_code == 201
    refused = _ask(example_farm, client, "desktop")
    assert refused.status_code == 403 and refused.json()["kind"] == "forbidden"
    assert "may not request builds for profile 'desktop'" in refused.json()["error"]
    assert _ask(example_farm, worker).status_code == 403
    assert _ask(example_farm, faraway).status_code == 403  # 127.0.0.1 is not in 10.0.0.0/8
    assert _ask(example_farm, None).status_code == 401
    assert _ask(example_farm, "bf_not-a-token").status_code == 401
    listed = httpx.get(f"{example_farm.url}/api/v1/tokens",
                       headers={"Authorization": f"Bearer {client}"})
    assert listed.status_code == 403

    tokens = example_farm.cli("token", "list")
    assert "lap1" in tokens.stdout and "builder9" in tokens.stdout and client not in tokens.stdout
    assert example_farm.cli("token", "revoke", "lap1").returncode == 0
    assert _ask(example_farm, client).status_code == 401
    assert example_farm.cli("token", "create", "--role", "client").returncode == 1


def test_then_runs_a_script_when_the_build_ends(example_farm: FarmProcess,
                                                tmp_path: Path) -> None:
    out = tmp_path / "then.out"
    script = tmp_path / "then.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $2" >> {out}\n')
    script.chmod(0o755)
    done = example_farm.cli("request", "app-misc/wordcount", "--profile", "laptop",
                            "--then", str(script))
    assert done.returncode == 0, done.stderr
    build_id = done.stdout.split()[1].rstrip(":")
    assert out.read_text() == f"succeeded {build_id}\n"


def test_watch_and_workers_show_the_queue(example_farm: FarmProcess) -> None:
    watched = example_farm.cli("watch", "--iterations", "1")
    assert watched.returncode == 0, watched.stderr
    assert "worker" in watched.stdout and "embedded" in watched.stdout
    workers = example_farm.cli("workers")
    assert "embedded" in workers.stdout and "x86_64" in workers.stdout


def test_f1_f3_a_client_cannot_run_code_and_build_roots_hold_no_admin_token(
        example_farm: FarmProcess, tmp_path: Path) -> None:
    client = _token(example_farm, "--role", "client", "--profile", "laptop", "--name", "f1")
    marker = tmp_path / "pwned"
    attack = {"MAKEOPTS": f"--eval=pwn:;id>{marker};cp$${{IFS}}"
                          f"{example_farm.data_dir}/admin.token$${{IFS}}{marker}.token||true"}
    response = httpx.post(f"{example_farm.url}/api/v1/builds", timeout=120,
                          headers={"Authorization": f"Bearer {client}"},
                          json={"profile": "laptop", "atoms": ["app-misc/tool"], "env": attack})
    assert response.status_code == 400 and "MAKEOPTS" in response.json()["error"]
    done = example_farm.cli("request", "app-misc/tool", "--profile", "laptop")
    assert done.returncode == 0, done.stderr
    assert not marker.exists() and not marker.with_suffix(".token").exists()

    admin = example_farm.token
    roots = example_farm.data_dir / "worker"
    configs = list(roots.glob("**/roots/*/etc/portage/binrepos.conf/*"))
    assert configs
    for config in configs:
        text = config.read_text()
        assert admin not in text
        assert config.stat().st_mode & 0o077 == 0
        secret, profile = re.search(r"build-root:(bf_[^@]+)@[^/]+/binhost/(\S+)", text).groups()
        # What a build can read: its profile's binhost, and not the API.
        assert httpx.get(f"{example_farm.url}/api/v1/builds",
                         headers={"Authorization": f"Bearer {secret}"}).status_code == 403
        assert httpx.get(f"{example_farm.url}/binhost/{profile}/Packages",
                         auth=("x", secret)).status_code == 200
    assert (example_farm.data_dir.stat().st_mode & 0o077) == 0


def test_f22_a_forwarded_for_header_is_not_believed_without_a_configured_proxy(
        example_farm: FarmProcess) -> None:
    faraway = _token(example_farm, "--role", "admin", "--name", "vpn2", "--network",
                     "10.9.0.0/16")
    response = httpx.get(f"{example_farm.url}/api/v1/profiles", headers={
        "Authorization": f"Bearer {faraway}", "X-Forwarded-For": "10.9.1.1"})
    assert response.status_code == 403 and "127.0.0.1" in response.json()["error"]


def test_serve_starts_with_the_clis_variables_exported(tmp_path: Path) -> None:
    farm = FarmProcess(tmp_path / "var", "--workers", "0",
                       env={"BINFARM_SERVER": "http://127.0.0.1:9", "BINFARM_TOKEN": "bf_x"})
    try:
        assert httpx.get(f"{farm.url}/api/v1/health").status_code == 200
    finally:
        farm.stop()
