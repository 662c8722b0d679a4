"""Finds the hub: `--hub HOST:PORT`, else `TONGLIAN_HUB`, else the default listen address."""

from __future__ import annotations

import os

import grpc

from hub.config import DEFAULT_LISTEN


def hub_address(flag: str | None) -> str:
    return flag or os.environ.get("TONGLIAN_HUB") or DEFAULT_LISTEN


def open_channel(address: str) -> grpc.aio.Channel:
    limit = 64 * 1024 * 1024
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ],
    )
