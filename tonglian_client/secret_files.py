"""Secrets a registration names as files, read where the client runs.

The hub refuses a chain whose SecretRef names a path: it never opens a file that a
registration chooses. A tool that was given a file (`chains add --private-key-file`,
a devnet's 0600 key, `secrets put --file`) reads it here, as its own user, and puts
its content into the chain's own secret store over mutual TLS (PutSecret).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from tonglian_client.errors import InvalidRequest

if TYPE_CHECKING:
    from tonglian.v1 import chains_pb2, chains_pb2_grpc

# The hub's bound on one secret (hub/secret_store.py MAX_SECRET_BYTES).
MAX_SECRET_BYTES = 64 * 1024


def read_secret_file(path: Path) -> bytes:
    """The file's bytes; InvalidRequest when it cannot be read or is too large."""
    try:
        with path.open("rb") as f:
            value = f.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise InvalidRequest(
            grpc.StatusCode.INVALID_ARGUMENT, f"cannot read secret file {path}: {exc.strerror}"
        ) from None
    if len(value) > MAX_SECRET_BYTES:
        raise InvalidRequest(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"secret file {path} is larger than {MAX_SECRET_BYTES} bytes",
        )
    return value


def staged(
    chain: chains_pb2.Chain,
) -> tuple[chains_pb2.Chain, list[chains_pb2.PutSecretRequest]]:
    """The chain to register, its file secrets replaced by references to entries of its
    own store (same names), and the PutSecret requests that put those files there first."""
    from tonglian.v1 import chains_pb2

    out = chains_pb2.Chain()
    out.CopyFrom(chain)
    puts = []
    for name, ref in sorted(chain.adapter.secrets.items()):
        if ref.WhichOneof("source") == "file":
            value = read_secret_file(Path(ref.file))
            puts.append(
                chains_pb2.PutSecretRequest(chain_id=chain.chain_id, name=name, value=value)
            )
            out.adapter.secrets[name].CopyFrom(chains_pb2.SecretRef(store=name))
    return out, puts


async def register_staged(
    stub: chains_pb2_grpc.ChainRegistryAsyncStub, chain: chains_pb2.Chain
) -> chains_pb2.Chain:
    """Registers `chain` through a bare ChainRegistry stub, its file secrets put into its
    store first (AsyncClient.register_chain does the same with the SDK's errors)."""
    from tonglian.v1 import chains_pb2

    to_register, puts = staged(chain)
    for put in puts:
        await stub.PutSecret(put)
    resp = await stub.RegisterChain(chains_pb2.RegisterChainRequest(chain=to_register))
    registered: chains_pb2.Chain = resp.chain
    return registered
