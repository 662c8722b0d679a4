"""TLS material for tonglian.v1.Adapter channels: PEM files in, gRPC credentials out.

Both ends take the same three paths. A client with `ca` verifies the server;
with `cert` and `key` as well it presents a client certificate (mutual TLS). A
server with `cert` and `key` serves TLS; with `ca` as well it requires and
verifies client certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from adapters.base import AdapterMisconfigured


@dataclass(frozen=True)
class TlsFiles:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert or self.key)


def _read(path: str | None, what: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise AdapterMisconfigured(f"cannot read TLS {what} {path}: {exc.strerror}") from None


def _pair(files: TlsFiles) -> tuple[bytes, bytes] | None:
    if bool(files.cert) != bool(files.key):
        raise AdapterMisconfigured("TLS cert and key go together: give both or neither")
    cert, key = _read(files.cert, "cert"), _read(files.key, "key")
    return (key, cert) if key and cert else None


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    pair = _pair(files)
    return grpc.ssl_channel_credentials(
        root_certificates=_read(files.ca, "ca"),
        private_key=pair[0] if pair else None,
        certificate_chain=pair[1] if pair else None,
    )


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    pair = _pair(files)
    if pair is None:
        raise AdapterMisconfigured("a TLS server needs a cert and a key")
    ca = _read(files.ca, "ca")
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=bool(ca))
