"""The custom adapter's settings (AdapterSettings.options), validated once at creation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class CustomOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Base URL of the ledger, e.g. "http://127.0.0.1:8545" (the /v1 API hangs below it).
    url: HttpUrl
    # Blocks per page when scanning.
    page_blocks: int = Field(default=50, ge=1, le=100)
    # How long one scan request waits for a new block when following, in milliseconds.
    follow_wait_ms: int = Field(default=2000, ge=10, le=30_000)
