"""Test material for the Fabric verifier, built from the real captured blocks.

The captured vectors come without private keys, so any variant that must be signed
properly is re-signed with identities generated here:

- `make_ca` / `Ca.issue` create CAs and NodeOU identities (OU=peer/client/orderer/admin)
  with `cryptography`; signatures are normalised to low-S as Fabric does.
- `config_with` rewrites the real config block: it appends our CAs to the MSPs (as
  extra roots or intermediates), adds CRLs, and clears the NodeOU certifier
  certificates (cryptogen pins each NodeOU to the real CA, which would refuse our
  certificates). The real roots stay, so the real signatures still verify.
- `forge_tx` re-signs one transaction of a real block with our creator, endorsers and
  orderer(s): new tx id, proposal hash, endorsements, creator signature, data hash and
  orderer signature, so that only the property under test is wrong.
- `qscc_answer` builds the signed answer a peer gives to qscc GetTransactionByID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from tonglian.v1 import records_pb2
from tonglian_proof.verify.fabric import protos
from tonglian_proof.verify.fabric.block import Block, header_bytes
from tonglian_proof.verify.fabric.record import schema_of

DATA = Path(__file__).resolve().parents[2] / "data" / "fabric"
N_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
TX_TIME = dt.datetime(2026, 11, 27, 0, 47, tzinfo=dt.UTC)


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def block_bytes(n: int) -> bytes:
    return read(f"block-{n}.pb")


def low_s_sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return encode_dss_signature(r, min(s, N_P256 - s))


def high_s(signature: bytes) -> bytes:
    r, s = decode_dss_signature(signature)
    return encode_dss_signature(r, N_P256 - s if s <= N_P256 // 2 else s)


@dataclass
class Party:
    """An identity with its private key."""

    msp_id: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def serialized(self) -> bytes:
        sid = protos.identities.SerializedIdentity(mspid=self.msp_id, id_bytes=self.pem)
        return bytes(sid.SerializeToString())

    def sign(self, message: bytes) -> bytes:
        return low_s_sign(self.key, message)


@dataclass
class Ca(Party):
    def issue(
        self,
        cn: str,
        ou: str | None,
        *,
        msp_id: str | None = None,
        is_ca: bool = False,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial: int | None = None,
    ) -> Ca:
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]
        if ou:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before or dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(not_after or dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return Ca(msp_id or self.msp_id, key, cert)

    def crl(self, serials: Sequence[int]) -> bytes:
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            .next_update(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        )
        for serial in serials:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
                .build()
            )
        return b.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def make_ca(msp_id: str, cn: str | None = None) -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"test.{msp_id.lower()}"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn or f"testca.{msp_id.lower()}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Ca(msp_id, key, cert)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def config_with(
    *,
    roots: dict[str, Sequence[x509.Certificate]] | None = None,
    intermediates: dict[str, Sequence[x509.Certificate]] | None = None,
    crls: dict[str, Sequence[bytes]] | None = None,
    replace_roots: bool = False,
    edit: Callable[[Any], None] | None = None,
) -> bytes:
    """The real config block with MSPs edited as described in the module docstring."""
    blk = protos.common.Block.FromString(read("config-block.pb"))
    env = protos.common.Envelope.FromString(blk.data.data[0])
    payload = protos.common.Payload.FromString(env.payload)
    cenv = protos.configtx.ConfigEnvelope.FromString(payload.data)
    root = cenv.config.channel_group
    for gname in ("Application", "Orderer"):
        for org in root.groups[gname].groups.values():
            mcfg = protos.msp_config.MSPConfig.FromString(org.values["MSP"].value)
            fab = protos.msp_config.FabricMSPConfig.FromString(mcfg.config)
            msp_id = fab.name
            if replace_roots and msp_id in (roots or {}):
                del fab.root_certs[:]
            fab.root_certs.extend(_pem(c) for c in (roots or {}).get(msp_id, []))
            fab.intermediate_certs.extend(_pem(c) for c in (intermediates or {}).get(msp_id, []))
            fab.revocation_list.extend((crls or {}).get(msp_id, []))
            for role in ("client", "peer", "admin", "orderer"):
                getattr(fab.fabric_node_ous, f"{role}_ou_identifier").certificate = b""
            mcfg.config = fab.SerializeToString()
            org.values["MSP"].value = mcfg.SerializeToString()
    if edit is not None:
        edit(cenv.config)
    payload.data = cenv.SerializeToString()
    env.payload = payload.SerializeToString()
    blk.data.data[0] = env.SerializeToString()
    return bytes(blk.SerializeToString())


def parse(data: bytes) -> Any:
    return protos.common.Block.FromString(data)


def resign_block(blk: Any, orderers: Sequence[Party], *, corrupt: bool = False) -> bytes:
    """Recompute the data hash and replace the orderer signatures."""
    h = hashlib.sha256()
    for env in blk.data.data:
        h.update(env)
    blk.header.data_hash = h.digest()
    md = protos.common.Metadata.FromString(blk.metadata.metadata[0])
    del md.signatures[:]
    hdr = header_bytes(
        Block(blk.header.number, blk.header.previous_hash, blk.header.data_hash, (), ())
    )
    for o in orderers:
        sh = protos.common.SignatureHeader(creator=o.serialized(), nonce=os.urandom(24))
        shb = sh.SerializeToString()
        msg = md.value + shb + hdr
        sig = o.sign(msg if not corrupt else msg + b"x")
        md.signatures.append(protos.common.MetadataSignature(signature_header=shb, signature=sig))
    blk.metadata.metadata[0] = md.SerializeToString()
    return bytes(blk.SerializeToString())


def forge_tx(
    block: bytes,
    index: int,
    *,
    creator: Party,
    endorsers: Sequence[Party],
    orderers: Sequence[Party],
    sign_endorsement: Callable[[Party, bytes], bytes] | None = None,
    edit_rwset: Callable[[Any], None] | None = None,
) -> bytes:
    """Re-sign transaction `index` of `block` with our identities (module docstring)."""
    blk = parse(block)
    env = protos.common.Envelope.FromString(blk.data.data[index])
    payload = protos.common.Payload.FromString(env.payload)
    chdr = protos.common.ChannelHeader.FromString(payload.header.channel_header)
    shdr = protos.common.SignatureHeader.FromString(payload.header.signature_header)
    shdr.creator = creator.serialized()
    shb = shdr.SerializeToString()
    chdr.tx_id = hashlib.sha256(shdr.nonce + shdr.creator).hexdigest()
    chb = chdr.SerializeToString()
    tx = protos.transaction.Transaction.FromString(payload.data)
    action = tx.actions[0]
    action.header = shb
    cap = protos.transaction.ChaincodeActionPayload.FromString(action.payload)
    prp = protos.proposal_response.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    if edit_rwset is not None:
        cca = protos.proposal.ChaincodeAction.FromString(prp.extension)
        txrw = protos.rwset.TxReadWriteSet.FromString(cca.results)
        edit_rwset(txrw)
        cca.results = txrw.SerializeToString()
        prp.extension = cca.SerializeToString()
    prp.proposal_hash = hashlib.sha256(chb + shb + cap.chaincode_proposal_payload).digest()
    prpb = prp.SerializeToString()
    cap.action.proposal_response_payload = prpb
    del cap.action.endorsements[:]
    for e in endorsers:
        ser = e.serialized()
        sig = sign_endorsement(e, prpb + ser) if sign_endorsement else e.sign(prpb + ser)
        cap.action.endorsements.append(
            protos.proposal_response.Endorsement(endorser=ser, signature=sig)
        )
    action.payload = cap.SerializeToString()
    payload.header.channel_header = chb
    payload.header.signature_header = shb
    payload.data = tx.SerializeToString()
    pb = payload.SerializeToString()
    blk.data.data[index] = protos.common.Envelope(
        payload=pb, signature=creator.sign(pb)
    ).SerializeToString()
    return resign_block(blk, orderers)


def with_flag(block: bytes, index: int, code: int) -> bytes:
    """The block with its unsigned TRANSACTIONS_FILTER byte for `index` set to `code`."""
    blk = parse(block)
    flags = bytearray(blk.metadata.metadata[2])
    flags[index] = code
    blk.metadata.metadata[2] = bytes(flags)
    return bytes(blk.SerializeToString())


def tx_envelope(block: bytes, index: int) -> bytes:
    return bytes(parse(block).data.data[index])


def tx_id_of(block: bytes, index: int) -> str:
    env = protos.common.Envelope.FromString(tx_envelope(block, index))
    payload = protos.common.Payload.FromString(env.payload)
    return str(protos.common.ChannelHeader.FromString(payload.header.channel_header).tx_id)


def record_for(block: bytes, index: int, channel: str = "govchannel") -> records_pb2.Record:
    """The Record the hub's conventions derive from the first user write of a tx."""
    blk = parse(block)
    env = protos.common.Envelope.FromString(blk.data.data[index])
    payload = protos.common.Payload.FromString(env.payload)
    chdr = protos.common.ChannelHeader.FromString(payload.header.channel_header)
    tx = protos.transaction.Transaction.FromString(payload.data)
    cap = protos.transaction.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = protos.proposal_response.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    cca = protos.proposal.ChaincodeAction.FromString(prp.extension)
    txrw = protos.rwset.TxReadWriteSet.FromString(cca.results)
    for ns in txrw.ns_rwset:
        kv = protos.kv_rwset.KVRWSet.FromString(ns.rwset)
        for w in kv.writes:
            rec = records_pb2.Record(
                schema="" if w.is_delete else schema_of(w.value),
                value=w.value,
                version=(blk.header.number << 32) | index,
                block_height=blk.header.number,
                tx_id=chdr.tx_id,
                deleted=w.is_delete,
            )
            rec.ref.chain_id = "fabric-test"
            rec.ref.namespace = f"{channel}:{ns.namespace}"
            rec.ref.key = w.key
            rec.commit_time.CopyFrom(chdr.timestamp)
            return rec
    raise AssertionError("transaction writes nothing")


def qscc_answer(
    *,
    envelope: bytes,
    tx_id: str,
    peer: Party,
    client: Party,
    code: int = 0,
    channel: str = "govchannel",
    msp_id: str | None = None,
    when: dt.datetime | None = None,
    query_tx_id: str | None = None,
) -> records_pb2.FabricQsccAnswer:
    """A peer's signed answer to qscc GetTransactionByID, built as Fabric's endorser does."""
    when = when or dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
    ext = protos.proposal.ChaincodeHeaderExtension()
    ext.chaincode_id.name = "qscc"
    chdr = protos.common.ChannelHeader(
        type=protos.common.ENDORSER_TRANSACTION,
        channel_id=channel,
        tx_id=os.urandom(32).hex(),
        extension=ext.SerializeToString(),
    )
    chdr.timestamp.seconds = int(when.timestamp())
    shdr = protos.common.SignatureHeader(creator=client.serialized(), nonce=os.urandom(24))
    spec = protos.chaincode.ChaincodeInvocationSpec()
    spec.chaincode_spec.chaincode_id.name = "qscc"
    spec.chaincode_spec.input.args.extend(
        [b"GetTransactionByID", channel.encode(), (query_tx_id or tx_id).encode()]
    )
    cpp = protos.proposal.ChaincodeProposalPayload(
        input=spec.SerializeToString()
    ).SerializeToString()
    hdr = protos.common.Header(
        channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString()
    )
    prop = protos.proposal.Proposal(header=hdr.SerializeToString(), payload=cpp)
    propb = prop.SerializeToString()
    sp = protos.proposal.SignedProposal(proposal_bytes=propb, signature=client.sign(propb))
    ptx = protos.transaction.ProcessedTransaction(
        transactionEnvelope=protos.common.Envelope.FromString(envelope), validationCode=code
    )
    ptxb = ptx.SerializeToString()
    action = protos.proposal.ChaincodeAction()
    action.response.status = 200
    action.response.payload = ptxb
    action.chaincode_id.name = "qscc"
    phash = hashlib.sha256(hdr.channel_header + hdr.signature_header + cpp).digest()
    prp = protos.proposal_response.ProposalResponsePayload(
        proposal_hash=phash, extension=action.SerializeToString()
    ).SerializeToString()
    resp = protos.proposal_response.ProposalResponse(version=1, payload=prp)
    resp.response.status = 200
    resp.response.payload = ptxb
    ser = peer.serialized()
    resp.endorsement.endorser = ser
    resp.endorsement.signature = peer.sign(prp + ser)
    return records_pb2.FabricQsccAnswer(
        msp_id=msp_id or peer.msp_id,
        signed_proposal=sp.SerializeToString(),
        proposal_response=resp.SerializeToString(),
    )


@dataclass
class World:
    """Our generated organisations, grafted onto the real channel config."""

    org1_ca: Ca
    org2_ca: Ca
    org2_int: Ca
    orderer_ca: Ca
    rogue_ca: Ca
    org1_peer: Party
    org2_peer: Party
    org1_client: Party
    org2_client: Party
    orderer: Party
    orderer2: Party
    expired_peer: Party
    revoked_peer: Party
    rogue_peer: Party
    config: bytes

    def anchor(self, *, min_orgs: int = 0, policies: dict[str, str] | None = None) -> Any:
        from tonglian.v1 import chains_pb2

        a = chains_pb2.FabricTrustAnchor(
            channel="govchannel", config_block=self.config, qscc_min_orgs=min_orgs
        )
        a.endorsement_policies.update(
            policies if policies is not None else {"records": "AND('Org1MSP.peer','Org2MSP.peer')"}
        )
        return a

    def answers(self, block: bytes, index: int, code: int = 0) -> list[Any]:
        env, tx_id = tx_envelope(block, index), tx_id_of(block, index)
        return [
            qscc_answer(
                envelope=env, tx_id=tx_id, peer=self.org1_peer, client=self.org1_client, code=code
            ),
            qscc_answer(
                envelope=env, tx_id=tx_id, peer=self.org2_peer, client=self.org1_client, code=code
            ),
        ]

    def forge(self, block: bytes, index: int, **kw: Any) -> bytes:
        kw.setdefault("creator", self.org1_client)
        kw.setdefault("endorsers", [self.org1_peer, self.org2_peer])
        kw.setdefault("orderers", [self.orderer])
        return forge_tx(block, index, **kw)


_world: World | None = None


def world() -> World:
    """Built once per test session (key generation is the slow part)."""
    global _world
    if _world is None:
        org1, org2, ordr, rogue = (
            make_ca(m) for m in ("Org1MSP", "Org2MSP", "OrdererMSP", "Org2MSP")
        )
        org2_int = org2.issue("testica.org2msp", None, is_ca=True)
        revoked = org2.issue("revoked.peer.org2", "peer")
        _world = World(
            org1_ca=org1,
            org2_ca=org2,
            org2_int=org2_int,
            orderer_ca=ordr,
            rogue_ca=rogue,
            org1_peer=org1.issue("peer1.org1.test", "peer"),
            org2_peer=org2_int.issue("peer1.org2.test", "peer"),
            org1_client=org1.issue("user.org1.test", "client"),
            org2_client=org2.issue("user.org2.test", "client"),
            orderer=ordr.issue("orderer1.test", "orderer"),
            orderer2=ordr.issue("orderer2.test", "orderer"),
            expired_peer=org2.issue(
                "expired.peer.org2", "peer", not_after=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
            ),
            revoked_peer=revoked,
            rogue_peer=rogue.issue("rogue.peer.org2", "peer"),
            config=config_with(
                roots={"Org1MSP": [org1.cert], "Org2MSP": [org2.cert], "OrdererMSP": [ordr.cert]},
                intermediates={"Org2MSP": [org2_int.cert]},
                crls={"Org2MSP": [org2.crl([revoked.cert.serial_number])]},
            ),
        )
    return _world
