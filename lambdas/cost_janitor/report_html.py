"""The weekly digest as one self-contained HTML page: inline SVG charts drawn here (no JavaScript, no asset from
the network), from the same digest document the Slack message and SNS carry — so the picture and the text show
the same figures. Each bar carries its label and value as data attributes (a test reads them back)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from cost_janitor.slack_blocks import bill_text

COLOURS = ("#2f6fb3", "#e0a030", "#4a9a5b", "#b3473a", "#7a5ba6", "#5b8c99")
WIDTH, ROW, BAR_AREA = 720, 26, 460


def _money(value: float) -> str:
    return f"${value:,.2f}"


def hbars(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "$", chart: str) -> str:
    """Horizontal bars, one per (label, value), scaled to the largest; the value printed beside each."""
    if not rows:
        return f'<section class="chart" id="{chart}"><h2>{escape(title)}</h2><p class="empty">nothing yet</p></section>'
    top = max((v for _, v in rows), default=0.0) or 1.0
    height = ROW * len(rows) + 10
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}">']
    for n, (label, value) in enumerate(rows):
        y = 5 + n * ROW
        width = max(1.0, BAR_AREA * value / top) if value > 0 else 0.0
        shown = _money(value) if unit == "$" else f"{value:g}{unit}"
        parts.append(f'<g class="bar" data-chart="{chart}" data-label="{escape(label)}" data-value="{value}">'
                     f'<text x="0" y="{y + 16}" class="label">{escape(label[:28])}</text>'
                     f'<rect x="200" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}" fill="{COLOURS[0]}"/>'
                     f'<text x="{206 + width:.1f}" y="{y + 16}" class="value">{escape(shown)}</text></g>')
    parts.append("</svg>")
    return f'<section class="chart" id="{chart}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def grouped_columns(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *, chart: str) -> str:
    """Columns per label, one colour per series (realized vs estimated per week), with a legend."""
    names = list(series)
    top = max((v for values in series.values() for v in values), default=0.0) or 1.0
    height, base = 260, 220
    slot = (WIDTH - 60) / max(1, len(labels))
    width = max(4.0, slot / (len(names) + 1))
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}"><line x1="50" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#999"/>'
             f'<text x="0" y="20" class="value">{escape(_money(top))}</text>']
    for n, label in enumerate(labels):
        x0 = 55 + n * slot
        for k, name in enumerate(names):
            value = series[name][n]
            h = (base - 30) * value / top
            parts.append(f'<g class="bar" data-chart="{chart}" data-series="{escape(name)}" '
                         f'data-label="{escape(label)}" data-value="{value}"><rect x="{x0 + k * width:.1f}" '
                         f'y="{base - h:.1f}" '
                         f'width="{width - 1:.1f}" height="{h:.1f}" fill="{COLOURS[k % len(COLOURS)]}">'
                         f'<title>{escape(name)} {escape(label)}: {escape(_money(value))}</title></rect></g>')
        parts.append(f'<text x="{x0:.1f}" y="{base + 16}" class="tick">{escape(label[5:])}</text>')
    legend = "".join(f'<span class="key"><i style="background:{COLOURS[k % len(COLOURS)]}"></i>{escape(name)}</span>'
                     for k, name in enumerate(names))
    parts.append("</svg>")
    return f'<section class="chart" id="{chart}"><h2>{escape(title)}</h2>{"".join(parts)}<p>{legend}</p></section>'


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, chart: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows) or \
        f'<tr><td colspan="{len(header)}">nothing yet</td></tr>'
    return (f'<section class="chart" id="{chart}"><h2>{escape(title)}</h2><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


STYLE = """body{font:14px/1.4 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:780px;
color:#222}h1{font-size:22px}h2{font-size:16px;margin:28px 0 8px}.label,.value,.tick{font-size:12px;fill:#333}
.summary{background:#f3f6fa;padding:12px 16px;border-radius:6px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;font-size:13px}.key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}.empty,.note{color:#777}"""


def render(doc: Mapping[str, Any], *, title: str = "cost-janitor weekly report") -> str:
    """The whole page from a digest document (capabilities.report.Digest.document())."""
    weeks = doc.get("weeks") or []
    this = weeks[-1] if weeks else {"realized_usd": 0.0, "estimated_usd": 0.0}
    own = doc.get("own_cost") or {}
    own_text = (f"{_money(own['usd'])} this week" + (f", {own['share_of_savings_pct']:g} % of what it saved"
                                                      if own.get("share_of_savings_pct") is not None else "")
                if own else f"not available: {(doc.get('unavailable') or {}).get('own_cost', 'no data')}")
    coverage = (doc.get("tag_coverage") or {}).get("by_key") or {}
    sections = [
        f'<p class="summary"><b>Realized savings this week:</b> {_money(this["realized_usd"])} '
        f'(estimated {_money(this["estimated_usd"])} had every stop lasted the week)<br>'
        f'<b>cost-janitor\'s own cost:</b> <span id="own-cost" data-value="{own.get("usd", "")}">'
        f"{escape(own_text)}</span></p>",
        grouped_columns("Realized vs estimated savings per week", [w["week_of"] for w in weeks],
                        {"realized": [w["realized_usd"] for w in weeks],
                         "estimated": [w["estimated_usd"] for w in weeks]}, chart="weeks"),
        hbars("Savings this week by team", sorted((doc.get("by_team") or {}).items(), key=lambda kv: -kv[1]),
              chart="by-team"),
        hbars("Savings this week by action", sorted((doc.get("by_action") or {}).items(), key=lambda kv: -kv[1]),
              chart="by-action"),
        hbars("GPU instances by 7-day average utilisation", list((doc.get("gpu_bands") or {}).items()), unit="",
              chart="gpu-bands"),
        table("Right-sizing candidates (GPU average under 50 %)", ["instance", "average GPU %"],
              [(i, f"{avg:g}") for i, avg in (doc.get("gpu_candidates") or [])[:15]], chart="gpu-candidates"),
        hbars("Tag coverage per required key", list(coverage.items()), unit=" %", chart="tag-coverage"),
        table("Costliest idle resources (last 7 days)", ["resource", "action", "$/month"],
              [(r, a, _money(usd)) for r, a, usd in (doc.get("top_idle") or [])], chart="top-idle"),
        hbars("Data transfer by usage type, last 30 days (Cost Explorer; the egress findings are below)",
              [(str(u), float(usd)) for u, usd in (doc.get("egress") or [])], chart="egress"),
        table("Resource families (last 7 days)", ["line"],
              [(line.replace("*", ""),) for line in (doc.get("families") or [])], chart="families"),
    ]
    if doc.get("unpriced"):
        sections.append('<p class="note" id="unpriced">Unpriced this week (no price known; counted, not in the '
                        "dollars): " + escape(", ".join(f"{k} ×{n}" for k, n in doc["unpriced"].items())) + "</p>")
    if plans := doc.get("after_plans"):
        sections.append('<p class="note" id="after-plans">After Savings Plans: ' + escape(
            f"{plans['stops']:g} stop(s) counted at ${plans['realized_usd']:,.2f} (${plans['list_usd']:,.2f} at list "
            "price): a share a plan covers saves $0 until its commitment is used elsewhere") + "</p>")
    if bill := bill_text(doc.get("bill"), most=1000, markdown=False):
        sections.append('<p class="note" id="bill">' + escape(bill) + "</p>")
    if doc.get("unavailable"):
        sections.append('<p class="note">Not available this week: ' + escape(", ".join(
            f"{k} ({v})" for k, v in doc["unavailable"].items())) + "</p>")
    generated = escape(str(doc.get("generated_at", "")))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p class="note">generated {generated}</p>'
            + "".join(sections) + "</body></html>")
