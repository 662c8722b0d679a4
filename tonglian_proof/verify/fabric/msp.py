"""Fabric MSPs: who an identity is, and whether its certificate belongs to the channel.

An identity is valid for an MSP when its certificate chains to one of the MSP's root
CAs (through its intermediate CAs), is not itself a CA, no certificate of the chain is
revoked by a CRL of its issuer, every certificate of the chain is within its validity
period at the time of the signature, and, with NodeOUs on, it carries exactly one of
the client/peer/admin/orderer OUs (certified by the CA the MSP names, if any).

Chain building is the costly part after the signature itself, so successful results
are cached per (MSP configuration digest, certificate DER); failures are never
cached, and the validity-period check runs on every call.
"""

from __future__ import annotations

import hashlib
import itertools
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tonglian_proof.errors import MalformedInput, ProofRejected
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.signature import PublicKey, signature_problem

NODE_ROLES = ("client", "peer", "admin", "orderer")
_MAX_CHAIN = 8
_CACHE_SIZE = 8192


@lru_cache(maxsize=_CACHE_SIZE)
def parse_serialized_identity(data: bytes) -> tuple[str, bytes]:
    """Split a `msp.SerializedIdentity` into (MSP id, certificate DER); cached, as the
    same few identities sign everything and PEM-to-DER conversion is not cheap."""
    try:
        sid = protos.identities.SerializedIdentity.FromString(data)
    except Exception as exc:
        raise ProofRejected(f"identity is not a SerializedIdentity: {exc}") from exc
    msp_id = str(sid.mspid)
    try:
        cert = _load_pem(bytes(sid.id_bytes))
    except ValueError as exc:
        raise ProofRejected(f"identity of {msp_id or '?'} is not a PEM certificate") from exc
    return msp_id, cert.public_bytes(_DER)


_DER = Encoding.DER


@lru_cache(maxsize=_CACHE_SIZE)
def _load_pem(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


@lru_cache(maxsize=_CACHE_SIZE)
def load_der(der: bytes) -> x509.Certificate:
    """Parse a DER certificate (cached: the same few certificates sign everything)."""
    return x509.load_der_x509_certificate(der)


def subject_text(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _ous(cert: x509.Certificate) -> frozenset[str]:
    return frozenset(
        str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bool(bc.ca)


@dataclass(frozen=True)
class Identity:
    """A certificate validated against its MSP, with the roles it holds there."""

    msp_id: str
    cert_der: bytes
    subject: str
    ous: frozenset[str]
    roles: frozenset[str]
    public_key: PublicKey
    # "MSP role subject", for checks and policy verdicts (built once: read on every use).
    description: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        role = "/".join(sorted(self.roles)) or "member"
        object.__setattr__(self, "description", f"{self.msp_id} {role} {self.subject}")

    def has_role(self, role: str) -> bool:
        return role == "member" or role in self.roles

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class _OuId:
    ou: str
    certifier_der: bytes | None


@dataclass(frozen=True)
class _Chained:
    chain: tuple[x509.Certificate, ...]
    identity: Identity
    # The intersection of the chain's validity periods.
    not_before: datetime
    not_after: datetime


_chain_cache: OrderedDict[tuple[bytes, bytes], _Chained] = OrderedDict()
_managers: weakref.WeakSet[MspManager] = weakref.WeakSet()


def clear_cache() -> None:
    """Forget cached chain results (benchmarks and tests measure cold paths with it)."""
    _chain_cache.clear()
    for manager in _managers:
        manager.forget()


class Msp:
    """One organisation's MSP as the channel config defines it."""

    def __init__(self, msp_id: str, fabric_config: Any, digest: bytes) -> None:
        self.msp_id = msp_id
        self.digest = digest
        self.roots = [self._load(c, "root") for c in fabric_config.root_certs]
        self.intermediates = [
            self._load(c, "intermediate") for c in fabric_config.intermediate_certs
        ]
        if not self.roots:
            raise MalformedInput(f"MSP {msp_id} has no root certificate")
        self.admins = {self._load(c, "admin").public_bytes(_DER) for c in fabric_config.admins}
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in [*self.intermediates, *self.roots]:
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        self._root_ders = {c.public_bytes(_DER) for c in self.roots}
        for inter in self.intermediates:
            self._build_chain(inter)  # an intermediate that does not chain makes the MSP unusable
        self.revoked = self._load_crls(fabric_config.revocation_list)
        node_ous = fabric_config.fabric_node_ous
        self.node_ous = bool(node_ous.enable)
        self.node_ou_ids: dict[str, _OuId] = {}
        if self.node_ous:
            for role in NODE_ROLES:
                field = getattr(node_ous, f"{role}_ou_identifier")
                if (
                    node_ous.HasField(f"{role}_ou_identifier")
                    and field.organizational_unit_identifier
                ):
                    self.node_ou_ids[role] = self._ou_id(field)
        self.ou_restriction = [
            self._ou_id(o) for o in fabric_config.organizational_unit_identifiers
        ]

    def _load(self, pem: bytes, what: str) -> x509.Certificate:
        try:
            return _load_pem(bytes(pem))
        except ValueError as exc:
            raise MalformedInput(
                f"MSP {self.msp_id}: {what} certificate is not PEM: {exc}"
            ) from exc

    def _ou_id(self, field: Any) -> _OuId:
        certifier = None
        if field.certificate:
            certifier = self._load(field.certificate, "NodeOU certifier").public_bytes(_DER)
        return _OuId(str(field.organizational_unit_identifier), certifier)

    def _load_crls(self, crl_pems: Iterable[bytes]) -> dict[bytes, frozenset[int]]:
        revoked: dict[bytes, set[int]] = {}
        for pem in crl_pems:
            try:
                crl = x509.load_pem_x509_crl(bytes(pem))
            except ValueError as exc:
                raise MalformedInput(
                    f"MSP {self.msp_id}: revocation list is not a PEM CRL"
                ) from exc
            issuers = self._by_subject.get(crl.issuer.public_bytes(), [])
            signer = next((ca for ca in issuers if crl.is_signature_valid(ca.public_key())), None)  # type: ignore[arg-type]
            if signer is None:
                raise MalformedInput(
                    f"MSP {self.msp_id}: CRL of {crl.issuer.rfc4514_string()} is not signed by "
                    "any of the MSP's CAs"
                )
            serials = revoked.setdefault(signer.public_bytes(_DER), set())
            serials.update(r.serial_number for r in crl)
        return {k: frozenset(v) for k, v in revoked.items()}

    def _build_chain(self, cert: x509.Certificate) -> tuple[x509.Certificate, ...]:
        chain = [cert]
        current = cert
        while current.public_bytes(_DER) not in self._root_ders:
            if len(chain) > _MAX_CHAIN:
                raise ProofRejected(f"certificate chain of {subject_text(cert)} is too long")
            issuer = None
            for candidate in self._by_subject.get(current.issuer.public_bytes(), []):
                if candidate is current:
                    continue
                try:
                    current.verify_directly_issued_by(candidate)
                except Exception:  # wrong key type or bad signature: not this issuer
                    continue
                issuer = candidate
                break
            if issuer is None:
                raise ProofRejected(
                    f"certificate {subject_text(cert)} does not chain to the root CAs of "
                    f"{self.msp_id}"
                    f" (no valid issuer {current.issuer.rfc4514_string()} in the MSP)"
                )
            if not _is_ca(issuer) and issuer.public_bytes(_DER) not in self._root_ders:
                raise ProofRejected(f"issuer {subject_text(issuer)} of {self.msp_id} is not a CA")
            chain.append(issuer)
            current = issuer
        return tuple(chain)

    def _classify(
        self, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]
    ) -> frozenset[str]:
        ous = _ous(cert)
        direct_issuer = chain[1].public_bytes(_DER)

        def holds(ou_id: _OuId) -> bool:
            if ou_id.ou not in ous:
                return False
            return ou_id.certifier_der is None or ou_id.certifier_der == direct_issuer

        if self.ou_restriction and not any(holds(o) for o in self.ou_restriction):
            wanted = ", ".join(o.ou for o in self.ou_restriction)
            raise ProofRejected(
                f"certificate {subject_text(cert)} has none of the OUs {self.msp_id} "
                f"requires ({wanted})"
            )
        roles: set[str] = set()
        if self.node_ous:
            matched = [role for role, ou_id in self.node_ou_ids.items() if holds(ou_id)]
            if len(matched) != 1:
                have = ", ".join(sorted(ous)) or "none"
                raise ProofRejected(
                    f"certificate {subject_text(cert)} must carry exactly one NodeOU role of "
                    f"{self.msp_id} ({', '.join(self.node_ou_ids)}); its OUs: {have}"
                )
            roles.add(matched[0])
        if cert.public_bytes(_DER) in self.admins:
            roles.add("admin")
        return frozenset(roles)

    def _chained(self, cert_der: bytes) -> _Chained:
        key = (self.digest, cert_der)
        hit = _chain_cache.get(key)
        if hit is not None:
            _chain_cache.move_to_end(key)
            return hit
        cert = load_der(cert_der)
        if _is_ca(cert):
            raise ProofRejected(
                f"certificate {subject_text(cert)} is a CA and cannot sign as an identity"
            )
        key_obj = cert.public_key()
        if not isinstance(key_obj, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            raise ProofRejected(f"certificate {subject_text(cert)} has an unsupported key type")
        chain = self._build_chain(cert)
        for child, issuer in itertools.pairwise(chain):
            if child.serial_number in self.revoked.get(issuer.public_bytes(_DER), frozenset()):
                raise ProofRejected(
                    f"certificate {subject_text(child)} (serial {child.serial_number:x}) "
                    f"is revoked by a CRL of {self.msp_id}"
                )
        identity = Identity(
            self.msp_id,
            cert_der,
            subject_text(cert),
            _ous(cert),
            self._classify(cert, chain),
            key_obj,
        )
        result = _Chained(
            chain,
            identity,
            max(c.not_valid_before_utc for c in chain),
            min(c.not_valid_after_utc for c in chain),
        )
        _chain_cache[key] = result
        if len(_chain_cache) > _CACHE_SIZE:
            _chain_cache.popitem(last=False)
        return result

    def validate(self, cert_der: bytes, at: datetime) -> Identity:
        """Validate a certificate as an identity of this MSP at time `at` (UTC)."""
        chained = self._chained(cert_der)
        if chained.not_before <= at <= chained.not_after:
            return chained.identity
        for cert in chained.chain:
            if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                raise ProofRejected(
                    f"certificate {subject_text(cert)} of {self.msp_id} is not valid at "
                    f"{at.isoformat()} (valid {cert.not_valid_before_utc.isoformat()} to "
                    f"{cert.not_valid_after_utc.isoformat()})"
                )
        return chained.identity


def build_msp(msp_config_bytes: bytes, where: str) -> Msp | str:
    """Build an MSP from a config value's `msp.MSPConfig`; an unsupported type gives a note."""
    try:
        cfg = protos.msp_config.MSPConfig.FromString(msp_config_bytes)
    except Exception as exc:
        raise MalformedInput(f"{where}: MSP value is not an MSPConfig: {exc}") from exc
    if int(cfg.type) != 0:
        return f"{where}: MSP type {int(cfg.type)} (not X.509) is not supported"
    try:
        fabric = protos.msp_config.FabricMSPConfig.FromString(cfg.config)
    except Exception as exc:
        raise MalformedInput(f"{where}: malformed FabricMSPConfig: {exc}") from exc
    digest = hashlib.sha256(bytes(cfg.config)).digest()
    return Msp(str(fabric.name), fabric, digest)


class MspManager:
    """All MSPs of a channel, by MSP id."""

    def __init__(self, msps: Mapping[str, Msp], unsupported: Mapping[str, str]) -> None:
        self.msps = dict(msps)
        self.unsupported = dict(unsupported)
        # Identities that chained to this channel's MSPs, by their exact serialized bytes:
        # the same few sign everything, and a hit skips parsing and the MSP lookup. Only
        # the validity period depends on the time, and it is checked on every call.
        self._known: dict[bytes, tuple[Msp, _Chained]] = {}
        _managers.add(self)

    def forget(self) -> None:
        self._known.clear()

    def identity(self, serialized: bytes, at: datetime) -> Identity:
        """Deserialize and validate a SerializedIdentity at time `at`."""
        known = self._known.get(serialized)
        if known is not None:
            chained = known[1]
            if chained.not_before <= at <= chained.not_after:
                return chained.identity
            return known[0].validate(chained.identity.cert_der, at)  # says which is not valid
        msp_id, der = parse_serialized_identity(serialized)
        msp = self.msps.get(msp_id)
        if msp is None:
            note = self.unsupported.get(msp_id)
            raise ProofRejected(note or f"MSP {msp_id!r} is not a member of the channel")
        identity = msp.validate(der, at)
        if len(self._known) >= _CACHE_SIZE:
            self._known.clear()
        self._known[bytes(serialized)] = (msp, msp._chained(der))
        return identity

    def verify(self, serialized: bytes, signature: bytes, message: bytes, at: datetime) -> Identity:
        """Validate the identity at `at` and check its signature over `message`."""
        ident = self.identity(serialized, at)
        problem = signature_problem(ident.public_key, signature, message)
        if problem is not None:
            raise ProofRejected(f"{problem} for {ident.describe()}")
        return ident
