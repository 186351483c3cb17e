"""The report's charts, drawn by matplotlib as SVG text to inline in the HTML.

Why matplotlib and SVG: the report must open from ``file://`` with no server and no network,
so nothing may be fetched when it is viewed (no CDN, no JavaScript). matplotlib is a
well-kept library that writes standalone SVG; inlined, a chart is part of the page, prints
and scales, and its labels stay text (``svg.fonttype = none``), searchable in the DOM. It is
imported only here, lazily, with the Agg backend, so no other command pays for it. The
index's sparklines are a few SVG lines each: plain text, drawn without matplotlib.
"""

from __future__ import annotations

import datetime as _dt
import io
from html import escape
from typing import Dict, List, Optional, Sequence

from ..errors import missing_extra

LANES = ("production", "canary", "staging")
GATE_STYLES = {"production": "--", "canary": "-.", "staging": ":", "candidate": (0, (1, 3))}
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b", "#9d755d")


def _figure(width: float, height: float, bottom: float):
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("model-registry report", "report") from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # labels as text: smaller, faster, searchable
    matplotlib.rcParams["svg.hashsalt"] = "model-registry"  # the same tags give the same file
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    # fixed margins (room for the stage names and the legend on the right): a layout engine
    # would double the time of every chart
    fig.subplots_adjust(left=0.1, right=0.79, bottom=bottom, top=0.95)
    return fig


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: drop the XML prolog and doctype


def colour(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def timeline_svg(segments: Dict[str, List[tuple]], rollbacks: List[tuple], colours: Dict[str, str],
                 end: int) -> str:
    """Which version held each lane over time: ``segments[lane] = [(start, stop, version)]``;
    ``rollbacks = [(time, lane)]`` drawn as red triangles."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num

    fig = _figure(9, 2.3, bottom=0.22)
    ax = fig.add_subplot()
    start = min((s[0] for lane in segments.values() for s in lane), default=end - 1)

    def day(ts):
        return date2num(_dt.datetime.fromtimestamp(ts, _dt.timezone.utc))

    span = max(day(end) - day(start), 1e-6)
    for row, lane in enumerate(LANES):
        bars = [(day(a), max(day(b) - day(a), span / 2000)) for a, b, _ in segments.get(lane, [])]
        ax.broken_barh(bars, (row - 0.38, 0.76), facecolors=[colours[v] for _, _, v in segments.get(lane, [])],
                       edgecolor="white", linewidth=0.5)
        for (left, width), (_, _, version) in zip(bars, segments.get(lane, [])):
            if width > span / 14:  # label only bars wide enough to hold it
                ax.text(left + width / 2, row, version, ha="center", va="center", fontsize=7, color="white")
    if rollbacks:
        ax.scatter([day(t) for t, _ in rollbacks], [LANES.index(lane) + 0.45 for _, lane in rollbacks],
                   marker="v", color="#d62728", s=42, zorder=3, label="rollback")
        ax.legend(loc="upper left", fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0))
    ax.set_yticks(range(len(LANES)), LANES, fontsize=8)
    ax.set_ylim(len(LANES) - 0.4, -0.6)
    ax.set_xlim(day(start) - span * 0.01, day(end))
    locator = AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def metrics_svg(versions: Sequence[str], series: Dict[str, List[Optional[float]]],
                gates: Dict[str, Dict[str, tuple]]) -> str:
    """One line per metric over the versions, and each gate (``gates[stage][metric] = (min,
    max)``) as a horizontal line in the metric's colour."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = _figure(9, 2.6, bottom=0.12)
    ax = fig.add_subplot()
    xs = list(range(len(versions)))
    for index, (name, values) in enumerate(series.items()):
        points = [(x, y) for x, y in zip(xs, values) if y is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, linewidth=1.3,
                color=colour(index), label=name)
        for stage, by_metric in gates.items():
            for bound in by_metric.get(name, ()):
                if bound is not None:
                    ax.axhline(bound, color=colour(index), linestyle=GATE_STYLES.get(stage, "--"), linewidth=0.9,
                               label=f"{stage} gate {name} {bound:g}")
    # every tick is a costly object in matplotlib: a few per axis keep 50 families fast
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: versions[int(x)] if 0 <= int(x) < len(versions) else ""))
    ax.tick_params(labelsize=7)
    ax.set_xlim(-0.5, max(len(versions) - 0.5, 0.5))
    ax.spines[["top", "right"]].set_visible(False)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def sparkline_svg(values: Sequence[Optional[float]], label: str, width: int = 120, height: int = 28) -> str:
    """A tiny line of ``values`` (None: missing), a dot on the last one."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    title = f"<title>{escape(label)}</title>"
    if not known:
        return f'<svg class="spark" width="{width}" height="{height}" role="img">{title}</svg>'
    low, high = min(v for _, v in known), max(v for _, v in known)
    step = (width - 6) / max(len(values) - 1, 1)

    def point(i, v):
        y = height / 2 if high == low else 3 + (height - 6) * (high - v) / (high - low)
        return f"{3 + i * step:.1f},{y:.1f}"

    line = " ".join(point(i, v) for i, v in known)
    x, y = point(*known[-1]).split(",")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'{title}<polyline fill="none" stroke="#4c78a8" stroke-width="1.5" points="{line}"/>'
            f'<circle cx="{x}" cy="{y}" r="2.5" fill="#f58518"/></svg>')
