"""TLS mistakes, as a user makes them: each gets one line that names the side at fault and
what to do, the right exit code, and none of gRPC core's own log lines.

A real hub over mutual TLS (the `hub_process` fixture); `tonglian` as a child process.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import pki
from hub.cli import exit_codes
from tests.integration.cli.runner import Cli
from tonglian_tools.hub_process import HubProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def http_port() -> Iterator[int]:
    """A plain HTTP server (not TLS, not gRPC) on a free local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_tls_mistakes_name_the_side_and_the_fix(
    cli: Cli, hub_process: HubProcess, tmp_path: Path, http_port: int
) -> None:
    own = hub_process.pki_dir
    other = tmp_path / "other-pki"
    pki.init_ca(other)  # the same default name as the hub's CA: only the key differs
    stranger = pki.issue(other, "stranger", org="market-regulator", role="agency")
    ops = pki.issue(own, "ops2", org="tonglian-ops", role="operator")

    def refused(*argv: str) -> str:
        """`tonglian chains list ARGV` (the flags after the verb): exit 5; its stderr."""
        return cli("chains", "list", *argv, check=exit_codes.DENIED).stderr

    # Global flags after the verb; a CA file that does not hold the hub's CA.
    stderr = refused("--cert", str(ops.cert), "--key", str(ops.key),
            "--ca", str(other / pki.CA_CERT))  # fmt: skip
    assert stderr == (
        f"tonglian: the hub at {hub_process.address} is not trusted by your CA file "
        f"{other / pki.CA_CERT}: its certificate 'CN=hub,OU=hub,O=tonglian-hub' was issued "
        "by 'CN=Tonglian Dev CA,O=tonglian', and the file holds 'CN=Tonglian Dev CA,"
        "O=tonglian': a different CA of the same name; give the CA that issued the hub's "
        "certificate (a `tonglian pki init` folder's ca.crt)\n"
    )

    # A key that is not the certificate's: refused before dialing.
    stderr = refused("--cert", str(ops.cert), "--key", str(stranger.key),
            "--ca", str(own / pki.CA_CERT))  # fmt: skip
    assert stderr == (
        f"tonglian: your key {stranger.key} does not match your certificate {ops.cert} "
        "('CN=ops2,OU=operator,O=tonglian-ops'): give the key issued with this certificate "
        "(`tonglian pki issue NAME` writes NAME.crt and NAME.key together)\n"
    )

    # A certificate another CA issued: the hub refused it.
    stderr = refused("--cert", str(stranger.cert), "--key", str(stranger.key),
            "--ca", str(own / pki.CA_CERT))  # fmt: skip
    assert stderr == (
        f"tonglian: the hub at {hub_process.address} refused your certificate "
        f"'CN=stranger,OU=agency,O=market-regulator' ({stranger.cert}): it was issued by "
        f"'CN=Tonglian Dev CA,O=tonglian', not by the hub's CA in {own / pki.CA_CERT} "
        "(CN=Tonglian Dev CA,O=tonglian: a different CA of the same name); ask the hub's "
        "operator for a certificate its CA issues\n"
    )

    # That port is no TLS gRPC server.
    stderr = refused("--hub", f"127.0.0.1:{http_port}")
    assert stderr == (
        f"tonglian: 127.0.0.1:{http_port} is not a TLS gRPC server: it did not answer a TLS "
        "handshake (WRONG_VERSION_NUMBER); check the hub's address (its gRPC listener, not "
        "its HTTP one), or connect without TLS to a hub run with --insecure\n"
    )
