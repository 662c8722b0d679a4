"""Runs `tonglian serve` as a child process: for the demo, the tests and the benchmarks.

A real process on a real socket, so what they exercise is what users run: mutual
TLS with a development PKI (`hub.pki`, in DATA_DIR/dev-pki) and a policy file, unless
started `insecure`. `credentials` are those of an operator the default policy lets
do everything (O=tonglian-ops); `issue` makes more clients.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devnets.process import free_port
from hub import pki
from tonglian_client.channel import open_channel
from tonglian_client.credentials import Credentials

# The development operator's agency (O=) in DEV_POLICY, the demo's and the tests' policies.
OPERATOR_ORG = "tonglian-ops"
DEV_POLICY = f"""\
version: 1
principals:
  {OPERATOR_ORG}:
    operator: true
    rules:
      - name: ops-read-everything
        chains: ["*"]
        purposes: ["*"]
"""


class HubProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        insecure: bool = False,
        policy: str | None = None,
        extra_args: tuple[str, ...] = (),
        outlives_parent: bool = False,
    ) -> None:
        """`policy` is the policy file's YAML text (default DEV_POLICY); it can be
        rewritten while the hub runs with `write_policy`. The hub dies with the
        process that started it (SIGKILL included) unless it `outlives_parent`
        (`tonglian demo --keep`)."""
        self.data_dir = data_dir
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = data_dir / "hub.log"
        self._env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.insecure = insecure
        self.extra_args = extra_args
        self.outlives_parent = outlives_parent
        self.pki_dir = data_dir / "dev-pki"
        self.policy_path = data_dir / "policy.yaml"
        self.credentials: Credentials | None = None
        if not insecure:
            data_dir.mkdir(parents=True, exist_ok=True)
            if not (self.pki_dir / pki.CA_CERT).exists():
                pki.init_ca(self.pki_dir)
            if not self.policy_path.exists():
                self.write_policy(policy or DEV_POLICY)
            self.credentials = self.issue("operator", org=OPERATOR_ORG, role="operator")

    def issue(self, name: str, *, org: str, role: str = "agency", days: float = 30) -> Credentials:
        """A client certificate from the hub's development CA."""
        issued = pki.issue(self.pki_dir, name, org=org, role=role, days=days)
        return Credentials(issued.cert, issued.key, self.pki_dir / pki.CA_CERT)

    def write_policy(self, text: str) -> None:
        """Replaces the policy file atomically; the running hub picks it up on its next call."""
        tmp = self.policy_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.policy_path)

    def _security_args(self) -> list[str]:
        if self.insecure:
            return ["--insecure"]
        return ["--pki", str(self.pki_dir), "--policy", str(self.policy_path)]

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TONGLIAN_VERIFY_WORKERS": "1", **self._env}
        # -P: the working folder (perhaps holding a `hub/` data dir) never shadows the
        # installed packages.
        argv = [
            sys.executable,
            "-P",
            "-m",
            "hub.cli.main",
            "serve",
            "--listen",
            self.address,
            "--data-dir",
            str(self.data_dir),
            *self._security_args(),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self._bound(), *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    def _bound(self) -> list[str]:
        """The launcher that makes the hub die with this process (SIGKILL included), as
        the hub itself, same pid; nothing unless it `outlives_parent`."""
        if self.outlives_parent:
            return []
        return [sys.executable, "-P", "-m", "devnets.lifeline", "--exec", str(os.getpid()), "--"]

    async def wait_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with open_channel(self.address, self.credentials) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(
                        f"hub exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if resp.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"hub not serving after {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Sends `sig` and waits; returns the exit code (None if it was not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
