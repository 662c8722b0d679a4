"""Finds the hub and how to talk to it, from the command line's settings.

Address: `--hub HOST:PORT`, else `TONGLIAN_HUB`, else the default listen address.
Credentials: `--cert/--key/--ca`, else `TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA`;
plaintext only with `--insecure` or `TONGLIAN_INSECURE=1` (a hub run with --insecure).
The settings are passed to the SDK explicitly; nothing is written to the environment.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from hub.address import DEFAULT_LISTEN
from tonglian_client.channel import open_channel as sdk_open_channel
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import ENV_CA, ENV_INSECURE, Credentials
from tonglian_client.errors import CredentialsError


def hub_address(flag: str | None) -> str:
    return flag or os.environ.get("TONGLIAN_HUB") or DEFAULT_LISTEN


def _insecure(flag: bool | None) -> bool:
    return bool(flag) or os.environ.get(ENV_INSECURE, "") in ("1", "true", "yes")


def credentials_from(args: argparse.Namespace | None) -> Credentials | None:
    """The client's TLS credentials from the global flags, else the environment;
    None with --insecure."""
    if _insecure(getattr(args, "client_insecure", None)):
        return None
    creds = Credentials.from_parts(
        getattr(args, "tls_cert", None),
        getattr(args, "tls_key", None),
        getattr(args, "tls_ca", None),
    )
    if creds is None:
        raise CredentialsError(
            "no client certificate: give --cert/--key/--ca or TONGLIAN_CERT/TONGLIAN_KEY/"
            "TONGLIAN_CA (or --insecure for a hub run with --insecure)"
        )
    return creds


def trusted_ca(args: argparse.Namespace) -> Path | None:
    """The CA the caller trusts for the hub's signatures: --ca, else TONGLIAN_CA."""
    ca = getattr(args, "tls_ca", None) or os.environ.get(ENV_CA)
    return Path(ca) if ca else None


def open_channel(
    address: str, credentials: Credentials | None = None, *, insecure: bool = False
) -> grpc.aio.Channel:
    """A raw channel to the hub for tests and tools; without explicit credentials,
    those of the environment."""
    if credentials is None and not insecure:
        credentials = credentials_from(None)
    return sdk_open_channel(address, credentials)


def client(args: argparse.Namespace) -> AsyncClient:
    """The SDK client a CLI verb uses: --hub and the credential flags or environment."""
    creds = credentials_from(args)
    return AsyncClient(hub_address(args.hub), creds, insecure=creds is None)
