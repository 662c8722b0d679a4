"""Calls the hub's HTTP/JSON gateway with the `curl` binary alone (no Python HTTP client,
no gRPC): what an agency's shell script does."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tonglian_client.credentials import Credentials

CURL = shutil.which("curl") or "curl"
STATUS_MARK = "\n--http-status:"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


class Curl:
    def __init__(self, url: str, ca: Path) -> None:
        self.url = url
        self.ca = ca

    def argv(self, creds: Credentials | None, path: str, *args: str) -> list[str]:
        tls = ["--cert", str(creds.cert), "--key", str(creds.key)] if creds else []
        return [CURL, "-sS", "--max-time", "60", "--cacert", str(self.ca), *tls,
                *args, f"{self.url}{path}"]  # fmt: skip

    def __call__(self, creds: Credentials | None, path: str, *args: str) -> Answer:
        """One request; -w appends the status and content type after the body."""
        done = subprocess.run(
            self.argv(creds, path, *args, "-w", f"{STATUS_MARK}%{{http_code}} %{{content_type}}"),
            capture_output=True, timeout=90, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        body, _, tail = done.stdout.rpartition(STATUS_MARK.encode())
        status, _, content_type = tail.decode().partition(" ")
        return Answer(int(status), body, content_type)

    def json_call(
        self, creds: Credentials | None, method: str, path: str, body: Any | str
    ) -> Answer:
        data = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        return self(creds, path, "-X", method, "-H", "Content-Type: application/json",
                    "--data-binary", data)  # fmt: skip
