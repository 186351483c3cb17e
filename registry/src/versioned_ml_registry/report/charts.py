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
import math
from html import escape
from typing import Dict, List, Optional, Sequence

from ..errors import missing_extra

LANES = ("production", "canary", "staging")
GATE_STYLES = {"production": "--", "canary": "-.", "staging": ":", "candidate": (0, (1, 3))}
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b", "#9d755d")


def require_matplotlib() -> None:
    """matplotlib, set up to draw SVG; the report extra's error when it is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("model-registry report", "report") from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # labels as text: smaller, faster, searchable
    matplotlib.rcParams["svg.hashsalt"] = "model-registry"  # the same tags give the same file


def _figure(width: float, height: float, **margins):
    require_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    # fixed margins (room for the stage names and the legend on the right): a layout engine
    # would double the time of every chart
    fig.subplots_adjust(**{"left": 0.1, "right": 0.79, "top": 0.95, **margins})
    return fig


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: drop the XML prolog and doctype


def colour(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


def timeline_svg(segments: Dict[str, List[tuple]], rollbacks: List[tuple], colours: Dict[str, str],
                 end: int, labels: Optional[Dict[str, str]] = None) -> str:
    """Which version held each lane over time: ``segments[lane] = [(start, stop, version)]``;
    ``rollbacks = [(time, lane)]`` drawn as red triangles; ``labels[version]``: the text a bar
    shows (default: the version)."""
    fig = _figure(9, 2.3, bottom=0.22)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num

    labels = labels or {}
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
                ax.text(left + width / 2, row, labels.get(version, version), ha="center", va="center", fontsize=7,
                        color="white")
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
    """One small chart per metric, each on its own scale (an r2 of 0.8 is not drawn flat beside
    an RMSE of 300), over ``versions`` (the tick labels); each gate (``gates[stage][metric] =
    (min, max)``) a labelled horizontal line in its metric's chart. The charts of metric ``m``
    and its line carry the SVG ids ``metric-m`` and ``series-m``."""
    columns = min(len(series), 3) or 1
    rows = math.ceil(len(series) / columns) or 1
    height = 0.3 + 1.75 * rows  # inches: per row 1.1 of plot, then room for ticks and the next title
    fig = _figure(9, height, left=0.06, right=0.98, bottom=0.42 / height, top=1 - 0.28 / height,
                  wspace=0.3, hspace=0.6)
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    xs = list(range(len(versions)))
    for index, (name, values) in enumerate(series.items()):
        ax = fig.add_subplot(rows, columns, index + 1)
        ax.set_gid(f"metric-{name}")
        # a plain text, not set_title: placing a title measures every tick label of the axes
        ax.text(0, 1.04, name, transform=ax.transAxes, fontsize=8, va="bottom")
        points = [(x, y) for x, y in zip(xs, values) if y is not None]
        (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                          linewidth=1.3, color=colour(index))
        line.set_gid(f"series-{name}")
        at_right = blended_transform_factory(ax.transAxes, ax.transData)
        for stage, by_metric in gates.items():
            for bound in by_metric.get(name, ()):
                if bound is not None:
                    ax.axhline(bound, color="#777777", linestyle=GATE_STYLES.get(stage, "--"), linewidth=0.9)
                    ax.text(0.99, bound, f"{stage} gate {name} {bound:g}", transform=at_right, ha="right",
                            va="bottom", fontsize=6, color="#555555")
        # every tick is a costly object in matplotlib: a few per axis keep 50 families fast
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda x, _: versions[int(x)] if 0 <= int(x) < len(versions) else ""))
        ax.tick_params(labelsize=6)
        ax.set_xlim(-0.5, max(len(versions) - 0.5, 0.5))
        ax.spines[["top", "right"]].set_visible(False)
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
