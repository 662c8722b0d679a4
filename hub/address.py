"""Where the hub listens unless told otherwise, and where the CLI looks for it.

Its own module, so that a CLI verb learns the default without importing the
configuration model (pydantic) that only `tonglian serve` needs.
"""

from __future__ import annotations

DEFAULT_LISTEN = "127.0.0.1:50051"
