"""free_port never hands out one port twice, even when the OS offers it again."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from devnets import process
from devnets.process import DevnetError, free_port


class OfferedPorts:
    """A socket whose OS picks ports from `offers`, in order."""

    def __init__(self, offers: list[int]) -> None:
        self.offers = offers

    def __call__(self, *_args: Any) -> Any:
        offers = self.offers

        class Probe:
            def __enter__(self) -> Probe:
                return self

            def __exit__(self, *_exc: object) -> None:
                return None

            def bind(self, _address: tuple[str, int]) -> None:
                self.port = offers.pop(0)

            def getsockname(self) -> tuple[str, int]:
                return ("127.0.0.1", self.port)

        return Probe()


def test_a_port_offered_again_is_not_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_handed_out", set())
    monkeypatch.setattr(socket, "socket", OfferedPorts([41000, 41000, 41000, 41001]))
    assert [free_port(), free_port()] == [41000, 41001]


def test_no_new_port_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_handed_out", {41000})
    monkeypatch.setattr(process, "_PORT_TRIES", 3)
    monkeypatch.setattr(socket, "socket", OfferedPorts([41000] * 3))
    why = "no TCP port on 127.0.0.1 that this process has not handed out already"
    with pytest.raises(DevnetError, match=f"^{re.escape(why)}$"):
        free_port()


def test_real_ports_are_distinct_and_bindable() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", ports[-1]))
