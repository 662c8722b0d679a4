"""The annals adapter's settings (AdapterSettings.options)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl


class AnnalsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Base URL of the node; the API hangs below /api/v2.
    url: HttpUrl
    # Blocks per page when scanning.
    page_size: int = Field(default=50, ge=1, le=100)
    # How often a following scan asks for new blocks, in milliseconds.
    poll_ms: int = Field(default=250, ge=10, le=30_000)
