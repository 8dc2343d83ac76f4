"""Every knob binfarm has, typed, with its default and a help line.

Settings are built once by the CLI (flags > BINFARM_* environment > defaults) and passed
down; nothing else reads the environment, except the Portage helper child.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from binfarm.errors import InvalidInput

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_SERVER",
    "ClientEnvironment",
    "PortageSettings",
    "PublishSettings",
    "QueueSettings",
    "ServerSettings",
    "Settings",
    "SigningSettings",
    "WorkerSettings",
    "load_settings",
    "parse_listen",
]

DEFAULT_LISTEN = "127.0.0.1:7979"
DEFAULT_SERVER = f"http://{DEFAULT_LISTEN}"


class PortageSettings(BaseModel):
    helper_timeout_s: float = Field(120.0, description="Longest one Portage helper call may take.")
    build_timeout_s: float = Field(3600.0, description="Longest one emerge build may take.")


class ServerSettings(BaseModel):
    listen: str = Field(DEFAULT_LISTEN, description="HOST:PORT the HTTP server binds to.")
    max_profile_bytes: int = Field(16 << 20, description="Largest accepted profile tree upload.")
    max_package_bytes: int = Field(2 << 30, description="Largest accepted binary package upload.")
    max_root_bytes: int = Field(16 << 30, description="Largest accepted chroot root archive.")
    dashboard_anonymous: bool = Field(False, description="Anyone may read the dashboard "
                                      "(its actions still need an admin's login).")
    metrics_public: bool = Field(False, description="Serve /metrics without a token (else "
                                 "an admin or viewer token: Authorization: Bearer).")
    max_log_chunk_bytes: int = Field(1 << 20, description="Largest accepted build log chunk.")
    max_log_bytes: int = Field(64 << 20, description="A build log is cut (with a note) here.")
    max_json_bytes: int = Field(1 << 20, description="Largest accepted JSON request body.")
    max_long_polls: int = Field(16, ge=1, description="Lease long-polls one token may have "
                                "waiting at once (more get 429).")
    binhost_auth: Literal["optional", "required"] = Field(
        "optional", description="Whether binhost reads need a token (as Basic auth password); "
        "credentials that are sent are always checked.")
    tls_cert: Path | None = Field(None, description="PEM certificate (chain) to serve HTTPS "
                                  "with; needs tls_key.")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    forwarded_allow_ips: str | None = Field(
        None, description="Proxies whose X-Forwarded-For is believed (comma-separated "
        "addresses, as uvicorn takes them); unset: no proxy header is believed.")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("HTTPS needs both tls_cert and tls_key (--tls-cert, --tls-key)")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a readable file")
        return self


class SigningSettings(BaseModel):
    uid: str = Field("binfarm signing key <binfarm@localhost>", description="User ID of a "
                     "signing key the farm creates.")
    passphrase_file: Path | None = Field(None, description="File holding the passphrase of "
                                         "the signing key; unset: the key has none.")
    passphrase: SecretStr | None = Field(None, description="The passphrase itself (from "
                                         "BINFARM_SIGNING__PASSPHRASE), if not in a file.")


class QueueSettings(BaseModel):
    lease_ttl_s: float = Field(60.0, description="A lease lapses this long after the last "
                               "heartbeat; the build is then retried elsewhere.")
    retry_base_s: float = Field(5.0, description="Backoff before the first retry of a lost "
                                "build; it doubles with each further loss.")
    retry_max_s: float = Field(300.0, description="Longest backoff between retries.")
    max_attempts: int = Field(4, ge=1, description="Leases a build may lose before it fails.")
    bench_after: int = Field(3, ge=1, description="Failures in a row that bench a worker.")
    bench_s: float = Field(600.0, description="How long a benched worker gets no builds.")
    long_poll_s: float = Field(20.0, description="Longest a lease request waits for a build.")
    notice_timeout_s: float = Field(10.0, description="Timeout of one webhook delivery.")
    webhook_allow: list[str] = Field(default_factory=list, description="Networks (CIDRs) "
                                     "webhooks may reach besides public addresses, e.g. "
                                     "[\"10.0.0.0/8\"]; loopback and private need this.")
    notice_max_attempts: int = Field(8, ge=1, description="Deliveries of one notice tried "
                                     "before it is given up.")
    notice_deadline_s: float = Field(30.0, description="Longest one delivery may take, "
                                     "however slowly the receiver answers.")
    client_max_priority: int = Field(10, ge=-100, le=100, description="Highest priority a "
                                     "client token may give its requests (admins: 100).")
    notice_retry_max_s: float = Field(600.0, description="Longest pause between webhook "
                                      "delivery attempts.")


def machine_slots() -> int:
    """Builds at once that a machine's cores keep busy: independent small builds in
    parallel are what makes the farm as fast as one emerge (bench/overhead.py), and past
    4 each build's own MAKEOPTS -jN uses the cores anyway."""
    return max(1, min(4, os.cpu_count() or 1))


class WorkerSettings(BaseModel):
    name: str = Field("embedded", description="Name the worker reports to the server.")
    poll_interval_s: float = Field(1.0, description="Pause between lease attempts when idle.")
    log_flush_s: float = Field(2.0, description="How often a running build's log is sent.")
    heartbeat_s: float = Field(10.0, description="How often a running build is reported alive.")
    slots: int = Field(default_factory=machine_slots, ge=1, le=64,
                       description="Builds this worker runs at once [default: the machine's "
                       "cores, at most 4; `binfarm worker` takes --slots].")
    outage_s: float = Field(900.0, description="How long a worker keeps retrying a server "
                            "that does not answer before it gives a build up.")
    http_timeout_s: float = Field(60.0, description="Timeout of one HTTP call to the server.")
    distcc: bool = Field(True, description="Compile on the farm's distcc hosts when it "
                         "leases their slots to a build.")
    distcc_slots: int = Field(16, ge=1, le=1024, description="Most distcc slots a build of "
                              "this worker asks for.")
    lease_wait_s: float = Field(20.0, ge=0, le=60, description="How long an idle worker's "
                                "lease request waits on the server for a build; a stopping "
                                "worker may take this long to notice.")


class DistccSettings(BaseModel):
    trusted_networks: list[str] = Field(default_factory=list, description="Networks (CIDRs) "
                                        "distcc hosts may be in without a warning when added.")
    probe_interval_s: float = Field(60.0, gt=0, description="How often `serve` probes every "
                                    "distcc host.")
    probe_timeout_s: float = Field(20.0, gt=0, description="Longest one probe compile may take.")
    max_slots_per_build: int = Field(16, ge=1, description="Most distcc slots one build leases.")


class _FarmEnvironment(EnvSettingsSource):
    """BINFARM_* variables, where the CLI's own BINFARM_SERVER (a URL) is not the `server`
    section: a section is set by its BINFARM_SECTION__KEY variables, or by a JSON object."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value, key, is_complex = super().get_field_value(field, field_name)
        section = isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        if section and isinstance(value, str) and not value.lstrip().startswith("{"):
            return None, key, is_complex
        return value, key, is_complex


class PublishSettings(BaseModel):
    enabled: bool = Field(True, description="`serve` keeps <data_dir>/published/ up to date "
                          "(a plain tree per profile and channel for nginx, NFS, rsync, FTP).")
    grace_s: float = Field(3600.0, description="How long a generation no longer current is "
                           "kept: a client part way through an emerge may still read it.")
    copy_files: bool = Field(False, description="Copy package files into the published tree when "
                       "it is on another filesystem than the store (instead of refusing; "
                       "hard links cost no space, copies do).")


class Settings(BaseSettings):
    """The farm's settings; `data_dir` holds the database, store, logs and build roots."""

    model_config = SettingsConfigDict(env_prefix="BINFARM_", env_nested_delimiter="__")

    data_dir: Path = Field(Path("var"), description="Directory holding all of the farm's state.")
    database: str | None = Field(None, description="SQLAlchemy URL; SQLite in data_dir if unset.")
    workers: int = Field(1, ge=0, le=64, description="Embedded workers started by `serve`.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    portage: PortageSettings = Field(default_factory=PortageSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    distcc: DistccSettings = Field(default_factory=DistccSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"data_dir {value} exists and is not a directory")
        return value.absolute()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _FarmEnvironment(settings_cls), dotenv_settings,
                file_secret_settings)

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'binfarm.sqlite'}"


def parse_listen(listen: str) -> tuple[str, int]:
    """Split HOST:PORT; raise InvalidInput when it is not one."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"--listen wants HOST:PORT, not {listen!r}")
    return host.strip("[]"), int(port)


class ClientEnvironment(BaseSettings):
    """Where this machine's Portage lives, read as Portage reads it: PORTAGE_CONFIGROOT,
    and EPREFIX (PORTAGE_OVERRIDE_EPREFIX first), so a Gentoo Prefix works as / does."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    portage_configroot: str | None = None
    portage_override_eprefix: str | None = None
    eprefix: str | None = None

    @property
    def prefix(self) -> Path:
        return Path(self.portage_override_eprefix or self.eprefix or "/")

    @property
    def config_root(self) -> Path:
        return Path(self.portage_configroot or self.prefix)


def load_settings(**overrides: Any) -> Settings:
    """Settings from `overrides`, then BINFARM_* variables, then defaults; InvalidInput if bad."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a BINFARM_* value that is not what its field takes
        raise InvalidInput(f"invalid settings: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInput(f"invalid settings: {problems}") from exc
