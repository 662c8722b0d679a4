"""`tonglian demo`: a citizen registers a business with one visit, narrated with timings.

The market regulator (Fabric when its binaries are found, else a second custom
ledger), the tax bureau (an EVM chain) and the public security bureau (the custom
ledger) each keep their own chain. The regulator reads the tax clearance and the
residence certificate through the hub with proofs, asks one yes/no question
without receiving the record, and issues the licence on its own chain; routes
forward it to the other two, once, verified. Everything started is stopped at
the end or on Ctrl-C (asyncio turns SIGINT into a cancellation, so the `finally`
runs), unless `--keep`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from google.protobuf import json_format

from devnets.process import free_port
from hub.cli import exit_codes
from hub.cli.output import Progress, print_json
from hub.cli.query import print_record
from tonglian.v1 import chains_pb2, records_pb2, relay_pb2
from tonglian_client import predicates
from tonglian_client.client import AsyncClient
from tonglian_client.credentials import ENV_CA, ENV_CERT, ENV_KEY, Credentials
from tonglian_client.errors import ClientError
from tonglian_client.trust import hub_keys_from
from tonglian_client.verify import verify_answer, verify_record
from tonglian_proof.bundle import ReaderTrust, decode_bundle, encode_bundle, verify_bundle
from tonglian_proof.errors import ProofError
from tonglian_tools.demo import cast
from tonglian_tools.demo.deliveries import create_route, wait_final
from tonglian_tools.demo.ledgers import CustomLedger, EvmLedger, FabricLedger, Ledger
from tonglian_tools.hub_process import OPERATOR_ORG, HubProcess

DELIVERY_TIMEOUT = 20.0


def _anchor_summary(chain: chains_pb2.Chain) -> str:
    anchor = chain.trust_anchor
    if anchor.HasField("signed_merkle"):
        sm = anchor.signed_merkle
        return f"{sm.threshold} of {len(sm.validators)} validator Ed25519 keys"
    if anchor.HasField("evm"):
        ev = anchor.evm
        return f"EVM chain id {ev.chain_id}, registry contract, {ev.finality_depth} confirmations"
    if anchor.HasField("fabric"):
        return "channel MSP root certificates, endorsement policy, orderer policy"
    return "trust anchors"


def _summary(vr: records_pb2.VerifiedRecord, elapsed: float) -> str:
    v = vr.verification
    return (
        f"{'verified' if v.verified else 'NOT verified'} ({v.proof_kind} proof, "
        f"{len(v.checks)} checks) in {elapsed * 1e3:.0f} ms"
    )


def _save_bundle(
    out_dir: Path,
    name: str,
    vr: records_pb2.VerifiedRecord,
    anchor: chains_pb2.TrustAnchor,
    hub_ca: Path,
) -> tuple[Path, int]:
    """Writes the bundle and re-verifies the written bytes offline, without the hub,
    against the trust anchor the reader registered (not the one inside the bundle) and,
    for the EVM block hash, the hub's signature under the CA the reader trusts."""
    path = out_dir / f"{name}.bundle.pb"
    path.write_bytes(encode_bundle(vr.bundle))
    verdict = verify_record(
        decode_bundle(path.read_bytes()), anchor, hub_keys=hub_keys_from(hub_ca)
    )
    return path, len(verdict.checks)


class Demo:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.json: bool = args.json
        # Under --json the narration is silent and one JSON summary is printed at the end.
        self.step = Progress(quiet=self.json)
        self.bundles: list[str] = []
        self.out_dir: Path = args.out_dir
        self.work = work
        release = None
        if not args.no_fabric:
            from devnets.fabric.binaries import find_release

            release = find_release()
        self.fabric = release is not None
        devnets = work / "devnets"
        self.regulator: Ledger
        if release is not None:
            self.regulator = FabricLedger(devnets, cast.REGULATOR_FABRIC, release)
        else:
            self.regulator = CustomLedger(
                work / "devnets-amr", cast.REGULATOR_CUSTOM, cast.LICENCE_NS, ""
            )
        self.tax = EvmLedger(devnets, cast.TAX_CHAIN)
        self.security = CustomLedger(
            devnets, cast.SECURITY_CHAIN, cast.RESIDENCE_NS, cast.FORWARDED_NS
        )
        self.ledgers: list[Ledger] = [self.regulator, self.tax, self.security]
        self.http_port = free_port()
        self.hub = HubProcess(
            work / "hub",
            policy=cast.policy(self.regulator.chain.chain_id),
            extra_args=("--http-listen", f"127.0.0.1:{self.http_port}"),
            outlives_parent=args.keep,
        )
        self.today = date.today()

    async def start(self) -> None:
        step = self.step
        if not self.fabric:
            step(
                "Fabric binaries not found (set FABRIC_HOME or put `peer` on PATH): the market "
                "regulator's licences go on a second custom ledger instead"
            )
        roles = (
            (self.regulator, "market regulator"),
            (self.tax, "tax bureau"),
            (self.security, "public security bureau"),
        )
        step("starting the agencies' chains: " + ", ".join(f"{r}: {lg.label}" for lg, r in roles))

        async def up(ledger: Ledger, role: str) -> None:
            started = time.monotonic()
            await ledger.up(lambda line: None)
            step(f"  {role}: {ledger.label} up in {time.monotonic() - started:.1f}s")

        await asyncio.gather(*(up(lg, r) for lg, r in roles))
        step(f"starting the hub on {self.hub.address} (mutual TLS, policy {self.hub.policy_path})")
        self.hub.start()
        await self.hub.wait_serving()
        step(f"hub is SERVING; its status page: {self.status_url}")

    async def story(self) -> int:
        step, hub = self.step, self.hub
        ops_creds = hub.credentials
        assert ops_creds is not None  # the demo's hub serves mutual TLS
        regulator_creds = hub.issue("registration-desk", org=cast.REGULATOR)
        security_creds = hub.issue("household-office", org=cast.SECURITY_BUREAU)
        step(
            f"issued client certificates from the hub's CA: O={cast.REGULATOR}, "
            f"O={cast.SECURITY_BUREAU} (agencies) and O={OPERATOR_ORG} (operator)"
        )
        anchors = {lg.chain.chain_id: lg.chain.trust_anchor for lg in self.ledgers}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._publish_trust(anchors)
        async with (
            AsyncClient(hub.address, ops_creds) as ops,
            AsyncClient(hub.address, regulator_creds) as regulator,
            AsyncClient(hub.address, security_creds) as security,
        ):
            for ledger in self.ledgers:
                await ops.register_chain(ledger.chain)
                step(
                    f"registered {ledger.chain.chain_id} ({ledger.label}) with its trust "
                    f"anchors: {_anchor_summary(ledger.chain)}"
                )

            tx = await self.tax.write(
                cast.APPLICANT, cast.TAX_SCHEMA, cast.tax_clearance(self.today)
            )
            step(
                f"tax bureau: tax clearance for {cast.APPLICANT} on {cast.TAX_CHAIN}, "
                f"block {tx.block_height} (final)"
            )
            tx = await self.security.write(
                cast.APPLICANT, cast.RESIDENCE_SCHEMA, cast.residence_certificate()
            )
            step(
                f"public security bureau: residence certificate on {cast.SECURITY_CHAIN}, "
                f"block {tx.block_height}"
            )

            src = (self.regulator.chain.chain_id, self.regulator.namespace)
            routes = {
                "licence-to-security": (cast.SECURITY_CHAIN, self.security.inbox),
                "licence-to-tax": (cast.TAX_CHAIN, self.tax.inbox),
            }
            for route_id, dst in routes.items():
                await create_route(ops.channel, route_id, src, dst, cast.LICENCE_SCHEMA)
            step(
                f"operator: routes forward {cast.LICENCE_SCHEMA} records from {src[0]} to "
                f"{cast.SECURITY_CHAIN}/{cast.FORWARDED_NS} and to the {cast.TAX_CHAIN} inbox"
            )

            self.say()
            step(f"the citizen asks the market regulator to register a business ({cast.COMPANY})")
            tax_ref = f"{cast.TAX_CHAIN}/{self.tax.namespace}/{cast.APPLICANT}"
            res_ref = f"{cast.SECURITY_CHAIN}/{cast.RESIDENCE_NS}/{cast.APPLICANT}"
            for name, ref in (("tax-clearance", tax_ref), ("residence", res_ref)):
                started = time.monotonic()
                vr = await regulator.get_record(ref, purpose=cast.PURPOSE)
                elapsed = time.monotonic() - started
                path, checks = self.save_bundle(name, vr, anchors[vr.record.ref.chain_id])
                step(f"regulator reads {vr.record.schema}: {_summary(vr, elapsed)}")
                step(
                    f"  wrote {path}; re-verified offline, without the hub: {checks} checks passed"
                )

            try:
                await regulator.get_record(res_ref, purpose="marketing")
                step("ERROR: the hub let the regulator read for purpose 'marketing'")
                return exit_codes.FAILED
            except ClientError as exc:
                step(f"the same read for purpose 'marketing' is refused: {exc}")

            question = predicates.all_of(
                predicates.equals("status", "valid"),
                predicates.equals("address.city", "上海"),
                predicates.less_or_equal("valid_from", self.today.isoformat()),
            )
            started = time.monotonic()
            answer = await regulator.evaluate_predicate(res_ref, question, purpose=cast.PURPOSE)
            elapsed = time.monotonic() - started
            signed = verify_answer(answer, hub.pki_dir / "ca.crt")
            (self.out_dir / "residence.answer.json").write_bytes(answer.statement)
            step(
                f"regulator asks 'is the applicant resident in 上海 today?': "
                f"{'yes' if answer.answer else 'no'} in {elapsed * 1e3:.0f} ms, signed by the "
                f"hub ({len(signed.checks)} checks); the answer carries no record "
                f"(audit event {answer.audit_sequence})"
            )

            licence = cast.licence(self.today)
            started = time.monotonic()
            tx = await self.regulator.write(cast.COMPANY, cast.LICENCE_SCHEMA, licence)
            committed_at = time.time()
            step(
                f"regulator issues licence {cast.COMPANY} on {src[0]}: tx {tx.tx_id[:16]}…, "
                f"block {tx.block_height}, committed in {time.monotonic() - started:.2f}s"
            )
            done = await wait_final(ops.channel, list(routes), DELIVERY_TIMEOUT)
            for route_id, d in done.items():
                dst_chain = routes[route_id][0]
                ledger = self.security if dst_chain == cast.SECURITY_CHAIN else self.tax
                if d.state != relay_pb2.DELIVERY_STATE_CONFIRMED:
                    step(f"ERROR: delivery to {dst_chain} parked: {d.last_error}")
                    return exit_codes.FAILED
                arrived = await ledger.arrivals(d.delivery_id)
                lag = d.updated_at.ToNanoseconds() / 1e9 - committed_at
                step(
                    f"delivered to {dst_chain}: confirmed in block {d.destination_block_height} "
                    f"(tx {d.destination_tx_id[:16]}…) {max(0.0, lag):.1f}s after "
                    f"the licence was committed; the destination chain holds it "
                    f"{'once' if arrived == 1 else f'{arrived} times'} "
                    f"(delivery {d.delivery_id[:12]}…, source proof verified by the hub)"
                )
                if arrived != 1:
                    return exit_codes.FAILED

            own_ref = f"{src[0]}/{src[1]}/{cast.COMPANY}"
            started = time.monotonic()
            vr = await regulator.get_record(own_ref, purpose=cast.PURPOSE)
            elapsed = time.monotonic() - started
            path, checks = self.save_bundle("licence", vr, anchors[src[0]])
            step(f"regulator reads back the licence from {src[0]}: {_summary(vr, elapsed)}")
            step(f"  wrote {path}; re-verified offline: {checks} checks passed")

            fwd_ref = f"{cast.SECURITY_CHAIN}/{cast.FORWARDED_NS}/{cast.COMPANY}"
            started = time.monotonic()
            vr = await security.get_record(fwd_ref, purpose=cast.SECURITY_PURPOSE)
            elapsed = time.monotonic() - started
            step(f"public security bureau reads its forwarded copy: {_summary(vr, elapsed)}")
            self.say()
            if not self.json:
                print_record(vr)
            self.say()
            path, checks = self.save_bundle("licence-forwarded", vr, anchors[cast.SECURITY_CHAIN])
            step(f"wrote {path}; re-verified offline: {checks} checks passed")
            self._tamper(path, anchors[cast.SECURITY_CHAIN])

        return self._audit_verify(ops_creds)

    def _tamper(self, path: Path, anchor: chains_pb2.TrustAnchor) -> None:
        tampered = bytearray(path.read_bytes())
        tampered[len(tampered) // 2] ^= 0x01
        bad = path.with_name(path.name.replace(".bundle.pb", ".tampered.pb"))
        bad.write_bytes(bytes(tampered))
        try:
            verify_bundle(decode_bundle(bytes(tampered)), ReaderTrust(anchor))
            self.step(f"ERROR: the tampered bundle {bad} verified")
        except ProofError as exc:
            self.step(f"flipped one byte into {bad}: refused ({str(exc)[:120]})")

    def _audit_verify(self, creds: Credentials | None) -> int:
        """Runs the real `tonglian audit verify` against the hub, as an operator would."""
        env = dict(os.environ)
        if creds is not None:
            env.update({ENV_CERT: str(creds.cert), ENV_KEY: str(creds.key), ENV_CA: str(creds.ca)})
        self.step("$ tonglian audit verify")
        result = subprocess.run(
            [
                sys.executable,
                "-P",
                "-m",
                "hub.cli.main",
                "--hub",
                self.hub.address,
                "audit",
                "verify",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        for line in (result.stdout + result.stderr).strip().splitlines():
            self.step(f"  {line}")
        return exit_codes.OK if result.returncode == 0 else exit_codes.FAILED

    def say(self, text: str = "") -> None:
        """A line of the story on stdout (none under --json)."""
        if not self.json:
            print(text)

    def _publish_trust(self, anchors: dict[str, chains_pb2.TrustAnchor]) -> None:
        """What a reader of the bundles needs to check them offline, from the chains' own
        operators (the anchors) and the hub's CA: written beside the bundles."""
        folder = self.out_dir / "anchors"
        folder.mkdir(exist_ok=True)
        for chain_id, anchor in anchors.items():
            (folder / f"{chain_id}.json").write_text(json_format.MessageToJson(anchor))
        (self.out_dir / "hub-ca.crt").write_bytes((self.hub.pki_dir / "ca.crt").read_bytes())
        self.step(
            f"wrote the chains' trust anchors to {folder} and the hub's CA to "
            f"{self.out_dir / 'hub-ca.crt'}: `tonglian verify BUNDLE --anchors {folder} "
            f"--hub-key {self.out_dir / 'hub-ca.crt'}` checks a bundle offline"
        )

    def save_bundle(
        self, name: str, vr: records_pb2.VerifiedRecord, anchor: chains_pb2.TrustAnchor
    ) -> tuple[Path, int]:
        path, checks = _save_bundle(self.out_dir, name, vr, anchor, self.hub.pki_dir / "ca.crt")
        self.bundles.append(str(path))
        return path, checks

    @property
    def status_url(self) -> str:
        """The hub's status page (HTTPS under the demo's mutual TLS; an operator certificate)."""
        return f"https://127.0.0.1:{self.http_port}/status"

    def status_hint(self) -> None:
        creds = self.hub.credentials
        self.say(f"Status page: {self.status_url} (needs the operator's certificate), e.g.")
        if creds:
            self.say(
                f"  curl --cacert {creds.ca} --cert {creds.cert} --key {creds.key} "
                f"{self.status_url}"
            )

    def stop_commands(self) -> list[str]:
        pid = self.hub.proc.pid if self.hub.proc else "?"
        return [
            f"kill {pid}",
            *(ledger.stop_hint() for ledger in self.ledgers),
            f"rm -rf {self.work}",
        ]

    def keep_hint(self) -> None:
        self.say(f"\nStill running (--keep): hub {self.hub.address}, state in {self.work}")
        creds = self.hub.credentials
        if creds:
            self.say(
                f"  export TONGLIAN_HUB={self.hub.address} TONGLIAN_CERT={creds.cert} "
                f"TONGLIAN_KEY={creds.key} TONGLIAN_CA={creds.ca}"
            )
        self.say("Stop everything with:")
        for command in self.stop_commands():
            self.say(f"  {command}")

    def summary(self, code: int, kept: bool) -> dict[str, object]:
        """What --json prints: the outcome and where to look."""
        creds = self.hub.credentials
        return {
            "ok": code == exit_codes.OK,
            "hub": self.hub.address,
            "status_url": self.status_url,
            "credentials": (
                {"cert": str(creds.cert), "key": str(creds.key), "ca": str(creds.ca)}
                if creds
                else None
            ),
            "fabric": self.fabric,
            "chains": [lg.chain.chain_id for lg in self.ledgers],
            "out_dir": str(self.out_dir),
            "bundles": self.bundles,
            "kept": kept,
            "stop": self.stop_commands() if kept else [],
        }

    async def stop(self) -> None:
        self.hub.stop()
        await asyncio.gather(*(lg.down() for lg in self.ledgers), return_exceptions=True)
        shutil.rmtree(self.work, ignore_errors=True)
        self.step("stopped the hub and every chain")


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="tonglian-demo-"))
    demo = Demo(args, work)
    keep = False
    try:
        await demo.start()
        code = await demo.story()
        demo.say()
        demo.say(f"Bundles and the signed answer are in {args.out_dir}/; check one yourself:")
        demo.say(
            f"  tonglian verify {args.out_dir / 'licence-forwarded.bundle.pb'} "
            f"--anchors {args.out_dir / 'anchors'}"
        )
        keep = args.keep and code == exit_codes.OK
        if keep:
            # The status page is there to see only while the hub runs.
            demo.status_hint()
            demo.keep_hint()
        if demo.json:
            print_json(demo.summary(code, keep))
        return code
    except Exception:
        demo.step(f"failed; the hub's log ends with:\n{demo.hub.log_tail(40)}")
        raise
    finally:
        if not keep:
            await demo.stop()
