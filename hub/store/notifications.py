"""What this replica knows of every chain's trust version, and since when it knows it.

A chain's trust version is a counter in the store, bumped in the same transaction
as every change of the chain's trust (registered, removed, registered again with
other anchors). Replicas cache registered chains (a read must not wait for the
store), so each cached copy carries the version it was read at and is used only
while that is still the newest version the store has announced.

The store keeps this object fresh: SQLite, one process, tells it of its own writes
as they commit; PostgreSQL tells it of every replica's writes through LISTEN/NOTIFY
and, as the fallback and as the proof that the notification connection is alive,
reads all versions every POLL_INTERVAL. A copy is current when the last full
confirmation is at most FRESHNESS_BOUND old; past that (the connection is down, the
database away) `latest` answers None and the caller must ask the store itself or
refuse: a replica that cannot tell whether its copy is current does not serve it.

The same versions, under the name CRL_PREFIX + issuer, announce a client CA's newer
CRL in the store, which every replica follows (hub/authentication.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("tonglian.store")

# How often a PostgreSQL replica reads every trust version (fallback to NOTIFY).
POLL_INTERVAL = 0.25
# How old the last confirmation may be for a cached copy to count as current; the
# bound on how long a change of trust made through one replica is unseen by another.
FRESHNESS_BOUND = 1.0


class TrustVersions:
    """The newest trust version heard of per chain (0: never registered), with the
    time the store last confirmed them all."""

    def __init__(self, *, always_current: bool = False) -> None:
        """`always_current`: this process is the store's only writer (SQLite), so what it
        heard of its own writes is all there is."""
        self._versions: dict[str, int] = {}
        self._always_current = always_current
        self._confirmed_at = -math.inf
        self._on_change: list[Callable[[str], None]] = []

    def on_change(self, callback: Callable[[str], None]) -> None:
        """`callback(chain_id)` runs when a newer version of the chain is heard of: every
        cache keyed on its old anchors drops its entry there."""
        self._on_change.append(callback)

    def heard(self, chain_id: str, version: int) -> None:
        """A version of `chain_id` the store committed (a notification, a read, a write)."""
        if version <= self._versions.get(chain_id, 0):
            return
        self._versions[chain_id] = version
        for callback in self._on_change:
            try:
                callback(chain_id)
            except Exception:  # one broken listener must not keep the others stale
                log.exception("trust change listener failed for chain %r", chain_id)

    def confirmed(self, started_at: float, versions: Mapping[str, int]) -> None:
        """Every version the store held when a read begun at `started_at` (monotonic) ran."""
        for chain_id, version in versions.items():
            self.heard(chain_id, version)
        self._confirmed_at = max(self._confirmed_at, started_at)

    def lost(self) -> None:
        """The notification connection dropped: nothing is confirmed from now on."""
        self._confirmed_at = -math.inf

    def latest(self, chain_id: str) -> int | None:
        """The newest version of `chain_id` (0: none), or None when this replica cannot
        vouch that it knows the newest (last confirmed more than FRESHNESS_BOUND ago)."""
        if not self._always_current and time.monotonic() - self._confirmed_at > FRESHNESS_BOUND:
            return None
        return self._versions.get(chain_id, 0)


class TrustVersioned:
    """A store's `trust` (hub.store.base.ChainStore.trust), kept in `_trust`."""

    _trust: TrustVersions

    @property
    def trust(self) -> TrustVersions:
        return self._trust


# The statement that bumps a chain's trust version, inside the transaction of the change
# (`{p}` is the backend's parameter placeholder); it returns the new version.
BUMP_TRUST = (
    "INSERT INTO trust_versions (chain_id, version) VALUES ({p}, 1) "
    "ON CONFLICT (chain_id) DO UPDATE SET version = trust_versions.version + 1 "
    "RETURNING version"
)
# A chain (NULL when removed) with its trust version, read together.
CHAIN_WITH_VERSION = (
    "SELECT t.version, c.chain FROM trust_versions t "
    "LEFT JOIN chains c ON c.chain_id = t.chain_id WHERE t.chain_id = {p}"
)
ALL_VERSIONS = "SELECT chain_id, version FROM trust_versions"

# The trust_versions name of a client CA's CRL (hub/authentication.py shares it).
CRL_PREFIX = "crl:"
# Keeps the newer of two CRLs of one CA (the same second: the one published last), and
# says so by its row count; a CRL already stored is not written again.
PUBLISH_CRL = (
    "INSERT INTO crls (issuer, last_update, crl) VALUES ({p1}, {p2}, {p3}) "
    "ON CONFLICT (issuer) DO UPDATE SET last_update = excluded.last_update, crl = excluded.crl "
    "WHERE crls.last_update <= excluded.last_update AND crls.crl <> excluded.crl"
)
ALL_CRLS = "SELECT crl FROM crls ORDER BY issuer"
