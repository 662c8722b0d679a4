"""Finds the hub and how to talk to it.

Address: `--hub HOST:PORT`, else `TONGLIAN_HUB`, else the default listen address.
Credentials: `--cert/--key/--ca`, else `TONGLIAN_CERT/TONGLIAN_KEY/TONGLIAN_CA`;
plaintext only with `--insecure` or `TONGLIAN_INSECURE=1` (a hub run with --insecure).
"""

from __future__ import annotations

import argparse
import os

import grpc

from hub.address import DEFAULT_LISTEN
from tonglian_client.channel import open_channel as sdk_open_channel
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import ENV_INSECURE, Credentials
from tonglian_client.errors import CredentialsError


def hub_address(flag: str | None) -> str:
    return flag or os.environ.get("TONGLIAN_HUB") or DEFAULT_LISTEN


def _insecure(flag: bool | None) -> bool:
    return bool(flag) or os.environ.get(ENV_INSECURE, "") in ("1", "true", "yes")


def credentials_from(args: argparse.Namespace | None) -> Credentials | None:
    """The client's TLS credentials from flags, else the environment; None with --insecure."""
    if _insecure(getattr(args, "insecure", None)):
        return None
    creds = Credentials.from_parts(
        getattr(args, "cert", None), getattr(args, "key", None), getattr(args, "ca", None)
    )
    if creds is None:
        raise CredentialsError(
            "no client certificate: give --cert/--key/--ca or TONGLIAN_CERT/TONGLIAN_KEY/"
            "TONGLIAN_CA (or --insecure for a hub run with --insecure)"
        )
    return creds


def open_channel(
    address: str, credentials: Credentials | None = None, *, insecure: bool = False
) -> grpc.aio.Channel:
    """A channel to the hub; without explicit credentials, those of the environment."""
    if credentials is None and not insecure:
        credentials = credentials_from(None)
    return sdk_open_channel(address, credentials)


def connect(args: argparse.Namespace) -> grpc.aio.Channel:
    """The channel a CLI command uses: --hub and the credential flags or environment."""
    creds = credentials_from(args)
    return sdk_open_channel(hub_address(args.hub), creds)


def client(args: argparse.Namespace) -> AsyncClient:
    creds = credentials_from(args)
    return AsyncClient(hub_address(args.hub), creds, insecure=creds is None)
