"""What one operator may see on the status page, decided by the operator use cases.

The page holds nothing the same certificate could not read through the RPCs: the
chains its operator rule covers (hub/policy.py OperatorScope), the routes
`Relay.ListRoutes` gives it (both ends in scope) with the latest deliveries of those
routes only, figures about every route and every call (deliveries by state, the
per-minute charts) only when its rule covers every chain (as `ListDeliveries` of every
route does), and the audit log's head and anchors only when `Audit.GetLogHead` and
`Audit.ListAnchors` answer it. No rule is written again here: each part asks the use
case that answers the matching RPC.
"""

from __future__ import annotations

from hub.errors import PermissionDenied
from hub.observability.snapshot import AUDIT, HUB_WIDE, MAX_LISTED, AuditView, Visible
from hub.principal import Principal
from hub.usecases.audit_reading import AuditReading
from hub.usecases.audit_record import AuditRecord
from hub.usecases.authorization import API, Operators
from hub.usecases.relay_admin import RelayAdmin

# Operations as Operators.authorize names them (after "tonglian.v1."): the listener's
# pages are checked like the RPCs, and refused with the same words.
STATUS = "Listener.GetStatus"
METRICS = "Listener.GetMetrics"
# What /metrics and the page's hub-wide figures span: they need a scope of every chain.
METRICS_SPAN = "the hub's metrics, every chain's and route's"
HUB_WIDE_SPAN = "deliveries by state and calls per minute of every route"


class OperatorView:
    def __init__(
        self, operators: Operators, relay_admin: RelayAdmin, audit_reading: AuditReading
    ) -> None:
        self._operators = operators
        self._relay_admin = relay_admin
        self._audit_reading = audit_reading

    def may_scrape(self, principal: Principal, audit: AuditRecord) -> None:
        """PermissionDenied unless `principal` operates every chain: /metrics spans them."""
        self._operators.authorize(principal, METRICS, audit, everywhere=METRICS_SPAN)

    async def visible(self, principal: Principal, audit: AuditRecord) -> Visible:
        """What `principal` sees on /status; PermissionDenied unless it may operate."""
        scope = self._operators.authorize(principal, STATUS, audit)
        page = await self._relay_admin.list_routes(principal, MAX_LISTED, "", audit)
        hidden: dict[str, str] = {}
        try:
            scope.require_everywhere(f"{API}{STATUS} ({HUB_WIDE_SPAN})")
        except PermissionDenied as exc:
            hidden[HUB_WIDE] = str(exc)
        log: AuditView | None = None
        try:
            head = await self._audit_reading.head(principal, audit)
            anchors = await self._audit_reading.anchors(principal, audit)
            log = AuditView(head.sequence, head.hash, anchors)
        except PermissionDenied as exc:
            hidden[AUDIT] = str(exc)
        # A refused part is not a refused page: the record holds no refusal.
        audit.denied_by = ""
        return Visible(scope.covers, page.items, log, hidden)
