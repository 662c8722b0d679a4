"""The status page: one self-contained HTML document, drawn on the server.

No script, no font, no stylesheet or image from elsewhere: it must render on an
air-gapped network. Charts are inline SVG bars of the last hour's per-minute
counts. The page reloads itself every REFRESH seconds. A section the viewer may not see
(hub/observability/operator_view.py) says so, and why, in its place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from hub.observability.snapshot import AUDIT, HUB_WIDE, Snapshot
from tonglian.v1 import relay_pb2

REFRESH = 10
CHART_W, CHART_H = 480, 90

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:0;
background:#f4f6f8;color:#1d2733}
header{background:#12355b;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;font-size:13px;opacity:.8}
main{padding:16px 24px;display:grid;gap:16px;
grid-template-columns:repeat(auto-fit,minmax(520px,1fr))}
section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4}th{color:#57606a}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px}.ok{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}
.empty{color:#57606a;font-style:italic}svg{display:block}
.chart text{font-size:11px;fill:#57606a}
"""


def _when(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    age = max(0.0, (now - at).total_seconds())
    return f"{at.strftime('%Y-%m-%d %H:%M:%S')} UTC ({_age(age)} ago)"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _health(text: str) -> str:
    cls = "ok" if text == "ok" else ("warn" if text == "unknown" else "bad")
    return f'<span class="{cls}">{escape(text)}</span>'


def chart(title: str, per_minute: list[int], unit: str) -> str:
    """Bars of per-minute counts, oldest left, with the peak and the total as text."""
    peak = max(per_minute, default=0)
    n = max(len(per_minute), 1)
    bar = CHART_W / n
    plot_h = CHART_H - 16
    bars = []
    for i, value in enumerate(per_minute):
        h = 0.0 if peak == 0 else plot_h * value / peak
        bars.append(
            f'<rect x="{i * bar:.1f}" y="{plot_h - h:.1f}" width="{max(bar - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#2f81f7"><title>{value} {escape(unit)}</title></rect>'
        )
    total = sum(per_minute)
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{CHART_W}" '
        f'height="{CHART_H}" viewBox="0 0 {CHART_W} {CHART_H}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="{plot_h}" x2="{CHART_W}" y2="{plot_h}" stroke="#d8dee4"/>'
        + "".join(bars)
        + f'<text x="0" y="{CHART_H - 2}">60 min ago</text>'
        f'<text x="{CHART_W}" y="{CHART_H - 2}" text-anchor="end">now · peak {peak}/min · '
        f"total {total} {escape(unit)}</text></svg>"
    )


def _chains(snap: Snapshot, now: datetime) -> str:
    if not snap.chains:
        return '<p class="empty">No chains registered.</p>'
    rows = "".join(
        f"<tr><td><code>{escape(c.chain_id)}</code></td><td>{escape(c.kind)}</td>"
        f"<td>{escape(c.adapter)}</td><td>{_health(c.health)}</td>"
        f'<td class="num">{"-" if c.final_height is None else c.final_height}</td>'
        f"<td>{escape(_when(c.last_block_time, now))}</td></tr>"
        for c in snap.chains
    )
    return (
        "<table><tr><th>chain</th><th>kind</th><th>adapter</th><th>health</th>"
        f"<th>final height</th><th>last block</th></tr>{rows}</table>"
    )


def _routes(snap: Snapshot) -> str:
    if not snap.routes:
        return '<p class="empty">No routes.</p>'
    rows = "".join(
        f"<tr><td><code>{escape(r.route_id)}</code></td><td>{escape(r.source)} → "
        f"{escape(r.destination)}</td><td>{escape(r.state)}</td>"
        f'<td class="num">{r.backlog}</td><td class="num">{_age(r.oldest_pending_seconds)}</td>'
        f"<td>{escape(r.lease_owner)}</td></tr>"
        for r in snap.routes
    )
    return (
        "<table><tr><th>route</th><th>from → to</th><th>state</th><th>backlog</th>"
        f"<th>oldest pending</th><th>lease</th></tr>{rows}</table>"
    )


def _hidden(snap: Snapshot, section: str) -> str | None:
    """The note that replaces a section the viewer may not see, or None."""
    why = snap.hidden.get(section)
    return None if why is None else f'<p class="empty">Not shown: {escape(why)}</p>'


def _counts(snap: Snapshot) -> str:
    hidden = _hidden(snap, HUB_WIDE)
    if hidden is not None:
        return hidden
    rows = "".join(
        f'<tr><td>{escape(state)}</td><td class="num">{n}</td></tr>'
        for state, n in snap.deliveries.items()
    )
    return f"<table><tr><th>state</th><th>count</th></tr>{rows}</table>"


def _chart(snap: Snapshot, title: str, per_minute: list[int], unit: str) -> str:
    hidden = _hidden(snap, HUB_WIDE)
    return hidden if hidden is not None else chart(title, per_minute, unit)


def _audit(snap: Snapshot, now: datetime) -> str:
    hidden = _hidden(snap, AUDIT)
    if hidden is not None:
        return hidden
    anchor = (
        f"{escape(_when(snap.last_anchor_at, now))} on <code>{escape(snap.last_anchor_chain)}"
        "</code>"
        if snap.last_anchor_at
        else "never anchored"
    )
    return f"""<table>
<tr><th>head sequence</th><td class="num">{snap.audit_sequence}</td></tr>
<tr><th>head hash</th><td><code>{snap.audit_head.hex()}</code></td></tr>
<tr><th>last anchor</th><td>{anchor}</td></tr></table>"""


def _deliveries(snap: Snapshot) -> str:
    recent = "".join(
        f"<tr><td><code>{escape(d.delivery_id[:16])}</code></td><td>{escape(d.route_id)}</td>"
        f"<td>{escape(d.record.ref.key)}</td><td>"
        f"{escape(relay_pb2.DeliveryState.Name(d.state).removeprefix('DELIVERY_STATE_').lower())}"
        f"</td></tr>"
        for d in snap.recent
    )
    latest = (
        f"<table><tr><th>delivery</th><th>route</th><th>key</th><th>state</th></tr>{recent}</table>"
        if recent
        else '<p class="empty">No deliveries yet.</p>'
    )
    return f"{_counts(snap)}<h2>Latest</h2>{latest}"


def render(snap: Snapshot, listen: str) -> str:
    """The whole page, as text/html."""
    now = datetime.now(UTC)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tonglian hub status</title><style>{CSS}</style></head>
<body><header><h1>Tonglian (通链) hub</h1>
<p>gRPC on {escape(listen)} · page drawn {now.strftime("%Y-%m-%d %H:%M:%S")} UTC ·
refreshes every {REFRESH}s</p></header>
<main>
<section id="chains"><h2>Chains</h2>{_chains(snap, now)}</section>
<section id="routes"><h2>Routes</h2>{_routes(snap)}</section>
<section id="queries"><h2>Queries per minute, last hour</h2>
{_chart(snap, "queries per minute", snap.queries_per_minute, "queries")}</section>
<section id="relay"><h2>Deliveries confirmed per minute, last hour</h2>
{_chart(snap, "deliveries per minute", snap.deliveries_per_minute, "deliveries")}</section>
<section id="deliveries"><h2>Deliveries by state</h2>{_deliveries(snap)}</section>
<section id="audit"><h2>Audit log</h2>{_audit(snap, now)}</section>
</main></body></html>
"""
