"""Hub settings: defaults, then a TOML or YAML file, then `TONGLIAN_*` environment, then flags.

Settings are an edge: they are validated here once, so the rest of the hub can
trust them. The environment is read here too, field by field (`TONGLIAN_LISTEN`, any
letter case), and validated like the file's values: plain pydantic, since a settings
library would cost the hub a third of its start for a dozen variable lookups.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.address import DEFAULT_LISTEN
from hub.errors import InvalidInput
from hub.secret_store import ENV_NAME


def default_data_dir() -> Path:
    """The per-user data folder: `$XDG_DATA_HOME/tonglian`, else `~/.local/share/tonglian`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tonglian"


ENV_PREFIX = "TONGLIAN_"


class HubSettings(BaseModel):
    """Everything `tonglian serve` can be told; each field is also `TONGLIAN_<NAME>`."""

    model_config = ConfigDict(extra="forbid")

    listen: str = DEFAULT_LISTEN
    data_dir: Path = Field(default_factory=default_data_dir)
    # Where the hub's state lives: empty for SQLite in data_dir (one process), or a
    # postgresql://USER@HOST:PORT/DB URL shared by every replica (password from
    # PGPASSWORD or ~/.pgpass, never in the URL on a command line).
    store: str = ""
    # This replica's name, shown as the holder of the routes it works (default: host name).
    replica_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=128)
    # Largest gRPC message the hub accepts or sends, in bytes.
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    # Limits per principal (hub/access/limits.py, docs/security.md "Limits"): past one, a
    # call is refused RESOURCE_EXHAUSTED naming the limit, and the refusal is audited.
    # Server streams (WatchRecords, WatchDeliveries) open at once per client certificate
    # and per agency, and unary calls in progress at once per agency.
    max_streams_per_certificate: int = Field(default=8, ge=1, le=100_000)
    max_streams_per_agency: int = Field(default=16, ge=1, le=100_000)
    max_calls_per_agency: int = Field(default=64, ge=1, le=100_000)
    # The same two limits for operator certificates (OU=operator), counted apart from
    # their agency's other clients, so a flood of agency calls cannot lock operators out.
    max_operator_streams: int = Field(default=64, ge=1, le=100_000)
    max_operator_calls: int = Field(default=256, ge=1, le=100_000)
    # Default deadline for one adapter call, in seconds.
    adapter_timeout: float = Field(default=15.0, gt=0, le=600)
    # Processes that verify proofs off the event loop (0: verify in threads).
    verify_workers: int = Field(default=2, ge=0, le=64)
    # Seconds to let in-flight calls finish on SIGTERM.
    shutdown_grace: float = Field(default=5.0, ge=0, le=300)
    log_level: str = "INFO"
    # One JSON object per log line ("json") or plain text ("text").
    log_format: Literal["text", "json"] = "text"
    # HTTP listener for /healthz, /metrics and /status (HOST:PORT, or PORT on loopback);
    # empty: off.
    http_listen: str = ""
    # OTLP/gRPC collector that receives traces (empty: OTEL_EXPORTER_OTLP_ENDPOINT, else off).
    otlp_endpoint: str = ""

    # Mutual TLS (hub/authentication.py): the hub's certificate and key, the CA whose
    # client certificates it accepts, and a CRL re-read when it changes.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    crl: Path | None = None
    # Plaintext, no certificates: only with `tonglian serve --insecure`, never in production.
    insecure: bool = False
    # Per-agency access policy (hub/policy.py), re-read when it changes; none denies every read.
    policy_file: Path | None = None
    # Key and certificate that sign predicate answers; default: tls_key and tls_cert.
    signing_cert: Path | None = None
    signing_key: Path | None = None
    # Extra JSON Schemas for the catalog (hub/catalog/); strict refuses records of unknown schemas.
    catalog_dir: Path | None = None
    catalog_strict: bool = False
    # Where the audit log's head is anchored (a registered chain whose adapter can submit),
    # in which namespace, and how often: after `audit_anchor_every` new events or
    # `audit_anchor_interval` seconds, whichever comes first. Empty chain: not anchored.
    audit_anchor_chain: str = ""
    audit_anchor_namespace: str = "tonglian-audit"
    audit_anchor_interval: float = Field(default=60.0, ge=0.1, le=86400)
    audit_anchor_every: int = Field(default=100, ge=2, le=1_000_000)
    # Environment variables of the hub that chains may reference as secrets (SecretRef.env);
    # empty: none, a chain's secrets are then entries of its own store only. In the
    # environment: TONGLIAN_SECRET_ENV=VAR1,VAR2.
    secret_env: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("secret_env", mode="before")
    @classmethod
    def _split_secret_env(cls, value: Any) -> Any:
        return (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )

    @field_validator("secret_env")
    @classmethod
    def _check_secret_env(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not ENV_NAME.match(v)]
        if bad:
            raise ValueError(f"secret_env holds names that are not variable names: {bad[:3]}")
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                f"store must be a postgresql://USER@HOST:PORT/DB URL (or empty for SQLite), "
                f"got {value.split('@')[-1]!r}"
            )
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen must be HOST:PORT, got {value!r}")
        return value


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings in a `.toml`, `.yaml` or `.yml` file, as a plain mapping."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read settings file {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise InvalidInput(f"settings file {path} must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"settings file {path} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"settings file {path} must hold a table of settings")
    section = data.get("hub", data)
    if not isinstance(section, dict):
        raise InvalidInput(f"settings file {path}: [hub] must be a table")
    return section


def settings_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The `TONGLIAN_<FIELD>` variables that name a setting (any case), by field name."""
    env = os.environ if environ is None else environ
    by_upper = {key.upper(): value for key, value in env.items()}
    return {
        name: by_upper[f"{ENV_PREFIX}{name}".upper()]
        for name in HubSettings.model_fields
        if f"{ENV_PREFIX}{name}".upper() in by_upper
    }


def load_settings(path: Path | None = None, **overrides: Any) -> HubSettings:
    """Settings from the file (if any), the environment, then explicit overrides."""
    file_values = read_settings_file(path) if path else {}
    explicit = {k: v for k, v in overrides.items() if v is not None}
    try:
        # Environment beats the file; explicit flags beat both.
        merged = {**file_values, **settings_from_env(), **explicit}
        return HubSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"invalid hub settings: {problems}") from exc
