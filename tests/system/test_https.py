"""The whole path over HTTPS, with a throwaway CA: `serve --tls-cert/--tls-key`, its
embedded worker, `client register --ca-cert`, and stock emerge fetching the index and the
signed packages over TLS (wget with the CA, from binrepos.conf)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import ClientPrefix, FarmProcess, WorkerProcess, process_env


def throwaway_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it issued for 127.0.0.1: (ca, cert, key)."""
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = directory / "farm.pem", directory / "farm.key", directory / "farm.csr"
    (directory / "san.cnf").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    for argv in (
        ["req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=binfarm test CA"],
        ["req", "-newkey", "ed25519", "-nodes", "-keyout", key, "-out", request,
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", directory / "san.cnf"],
    ):
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True)
    return ca, cert, key


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return throwaway_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory,
         tls: tuple[Path, Path, Path]) -> Iterator[FarmProcess]:
    _, cert, key = tls
    farm = FarmProcess(tmp_path_factory.mktemp("tlsfarm") / "var", "--example",
                       "--tls-cert", str(cert), "--tls-key", str(key))
    yield farm
    farm.stop()


def test_a_machine_registers_and_installs_over_https(
        farm: FarmProcess, tls: tuple[Path, Path, Path],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    ca, _, _ = tls
    assert farm.url.startswith("https://127.0.0.1:")
    built = farm.cli("--ca-cert", str(ca), "request", "hello", "--profile", "laptop", "--wait")
    assert built.returncode == 0, built.stdout + built.stderr + farm.dump()
    unchecked = farm.cli("builds")  # the system's CAs do not know this one
    assert unchecked.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in unchecked.stderr

    client = ClientPrefix(tmp_path_factory.mktemp("m"), "laptop", "http://127.0.0.1:9/")
    done = client.binfarm("client", "register", "--server", farm.url, "--ca-cert", str(ca),
                          "--token", enrollment_token_over_tls(farm, ca), "--name", "tls-1",
                          "--profile", "laptop")
    assert done.returncode == 0, done.stdout + done.stderr
    binrepos = (client.root / "etc/portage/binrepos.conf").read_text()
    assert "sync-uri = https://tls-1:" in binrepos, binrepos
    assert "--ca-certificate=" in binrepos and "verify-signature = true" in binrepos
    installed = client.emerge("--getbinpkg", "--usepkgonly", "--oneshot", "app-misc/hello")
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    assert client.installed_build_id("app-misc/hello-1.0")


def enrollment_token_over_tls(farm: FarmProcess, ca: Path) -> str:
    created = farm.cli("--ca-cert", str(ca), "token", "create", "--role", "enroll",
                       "--profile", "laptop", "--name", "enroll-tls")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_serve_warns_that_tokens_travel_in_clear_off_loopback(tmp_path: Path) -> None:
    """A farm listening on a network address without TLS says so (in a namespace of its
    own, so that nothing outside this machine can reach it)."""
    namespace = f"binfarm-clear-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        for argv in (["link", "set", "lo", "up"],
                     ["addr", "add", "10.254.0.1/32", "dev", "lo"]):
            subprocess.run(["ip", "-n", namespace, *argv], check=True)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-m", "binfarm", "--data-dir",
             str(tmp_path / "var"), "serve", "--workers", "0", "--listen", "10.254.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=process_env())
        try:
            assert proc.stdout is not None
            started = proc.stdout.readline()
            assert started.startswith("binfarm serving on http://10.254.0.1:"), started
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=60)
        assert "serving plain HTTP on 10.254.0.1: tokens and binhost credentials" in stderr
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def test_a_remote_worker_builds_for_an_https_farm_with_its_ca(
        tls: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ca, cert, key = tls
    farm = FarmProcess(tmp_path / "var", "--example", "--workers", "0",
                       "--tls-cert", str(cert), "--tls-key", str(key))
    worker = None
    try:
        created = farm.cli("--ca-cert", str(ca), "token", "create", "--role", "worker")
        assert created.returncode == 0, created.stderr
        worker = WorkerProcess(farm.url, created.stdout.strip().splitlines()[-1], "tls-worker",
                               tmp_path / "worker", env={"BINFARM_CA_CERT": str(ca)})
        built = farm.cli("--ca-cert", str(ca), "request", "wordcount", "--profile", "laptop",
                         "--wait")
        assert built.returncode == 0, built.stdout + built.stderr + worker.log_path.read_text()
        assert "succeeded" in built.stdout
    finally:
        if worker is not None:
            worker.stop()
        farm.stop()
