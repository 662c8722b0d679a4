"""Turns the TLS, policy and signing settings into what the server needs, refusing unsafe gaps.

The hub serves mutual TLS unless it is started with --insecure, which it says
loudly. Without a policy file every read is denied (deny by default).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.x509.oid import NameOID

from hub.authentication import Authenticator
from hub.config import HubSettings
from hub.errors import InvalidInput
from hub.pki import load_certificate, load_private_key, own_statement_key
from hub.policy import FixedPolicy, Policy, PolicyDocument, PolicySource, parse_policy
from hub.reloading_file import ReloadingFile
from tonglian_proof.statement import SIGNER_ROLE, StatementSigner

log = logging.getLogger("tonglian.hub")

INSECURE_RULE = "insecure-mode-allows-all"
INSECURE_WARNING = (
    "RUNNING INSECURE: plaintext gRPC, no client certificates, every caller is "
    "'anonymous/insecure'%s. Never do this outside a trusted development machine."
)


@dataclass(frozen=True)
class Security:
    credentials: grpc.ServerCredentials | None
    authenticator: Authenticator | None
    policy: PolicySource
    signer: StatementSigner


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from exc


def _signer(cert: Path | None, key: Path | None) -> StatementSigner | None:
    if cert is None or key is None:
        return None
    certificate = load_certificate(cert)
    roles = [
        a.value
        for a in certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    if roles != [SIGNER_ROLE]:
        log.warning(
            "signing certificate %s is not OU=%s: clients will refuse its signatures",
            cert,
            SIGNER_ROLE,
        )
    return StatementSigner(certificate, load_private_key(key))


def load_security(
    settings: HubSettings, on_reload: Callable[[str, str | None], None] | None = None
) -> Security:
    policy: PolicySource
    if settings.policy_file is not None:
        policy = ReloadingFile(settings.policy_file, parse_policy, "policy", on_reload)
    elif settings.insecure:
        policy = FixedPolicy(Policy.allowing_all(INSECURE_RULE))
    else:
        log.warning("no policy file (policy_file): every query and operator action is denied")
        policy = FixedPolicy(Policy(PolicyDocument(version=1, principals={})))
    signer = _signer(
        settings.signing_cert or settings.tls_cert, settings.signing_key or settings.tls_key
    )
    if signer is None:
        cert, key = own_statement_key(settings.data_dir)
        log.info("no signing certificate: bundles and answers are signed with %s", cert)
        signer = StatementSigner(load_certificate(cert), load_private_key(key))
    if settings.insecure:
        log.warning(
            INSECURE_WARNING,
            "" if settings.policy_file else f", and with no policy file {INSECURE_RULE}",
        )
        return Security(None, None, policy, signer)
    missing = [
        flag
        for flag, value in (
            ("--tls-cert", settings.tls_cert),
            ("--tls-key", settings.tls_key),
            ("--client-ca", settings.client_ca),
        )
        if value is None
    ]
    if missing:
        raise InvalidInput(
            f"the hub serves mutual TLS and needs {', '.join(missing)} (or --pki DIR holding "
            "ca.crt, hub.crt, hub.key, crl.pem from `tonglian pki init`); "
            "--insecure serves plaintext on a trusted development machine"
        )
    assert settings.tls_cert and settings.tls_key and settings.client_ca
    authenticator = Authenticator.from_files(settings.client_ca, settings.crl)
    credentials = grpc.ssl_server_credentials(
        [(_read(settings.tls_key, "TLS key"), _read(settings.tls_cert, "TLS certificate"))],
        root_certificates=_read(settings.client_ca, "client CA"),
        require_client_auth=True,
    )
    return Security(credentials, authenticator, policy, signer)
