"""``model-registry report``: a static HTML site of the registry, read from the tags alone.

``index.html`` lists every family (the holders of production, canary and staging, its latest
version, whether a canary is live, a sparkline of its main metric); ``families/<name>.html``
shows a stage timeline with the rollbacks marked, one chart per metric over the versions with
its gates, a table of versions and, with a decision ledger (``--ledger``, else the one
``serve`` writes for the repository when it exists), the decisions per version. Wherever a
version is named, a deprecated (or archived) one says so.

The pages are rendered in memory first: a report that fails (no matplotlib, an unreadable
ledger) writes nothing, and leaves an earlier report in ``output`` as it was.

It opens from ``file://`` with no server and no network: the charts are SVG that matplotlib
draws at build time, inlined in the pages (see :mod:`.charts`); there is no JavaScript
and nothing is fetched when viewed. Every text that comes from a tag is HTML-escaped.
"""

from __future__ import annotations

import shutil
import time as _time
from html import escape
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import RegistryError
from ..rules.evidence import flatten_metrics
from ..rules.gates import bounds
from ..rules.settings import load_settings
from ..rules.stages import RETIRED
from ..tags.state import FamilyState, iso
from .text import clip, person

STYLE = """<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#222}
table{border-collapse:collapse;width:100%;margin:8px 0 20px}th,td{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}code{font-size:12px}.muted{color:#777}
.live{background:#f58518;color:#fff;border-radius:3px;padding:0 4px;font-size:12px}
.rollback{color:#d62728;font-weight:600}svg{max-width:100%;height:auto}.spark{height:28px}
.stage-production{font-weight:600}.chart{margin:8px 0 16px}.metric{white-space:nowrap}
.retired{color:#a33;font-size:11px}tr.retired-row td{color:#777}</style>"""
CHART_MARK = " †"  # a retired version in a chart's labels (explained under the chart)


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width">{STYLE}</head><body>\n{body}\n</body></html>\n')


def gate_bounds(toplevel: str, family: str) -> Dict[str, Dict[str, tuple]]:
    """``{stage: {metric: (min, max)}}`` of the gates in force at HEAD; none when unreadable."""
    try:
        gates = load_settings(toplevel, family, rev="HEAD").gates
        return {str(stage): {name: bounds(name, spec) for name, spec in (specs or {}).items()}
                for stage, specs in gates.items() if isinstance(specs, dict)}
    except RegistryError:
        return {}


def main_metric(gates: dict, metrics: List[dict]) -> Optional[str]:
    """The metric the production gate watches, else ``accuracy``, else the first one recorded."""
    names = {name for flat in metrics for name in flat}
    for name in [*gates.get("production", {}), *[m for g in gates.values() for m in g], "accuracy"]:
        if name in names:
            return name
    return min(names) if names else None


def retired_mark(fam: FamilyState, version: str) -> str:
    """What follows a deprecated or archived version wherever the report names it."""
    status = fam.status(version)
    return f' <small class="retired">{escape(status)}</small>' if status in RETIRED else ""


def version_html(fam: FamilyState, version: Optional[str]) -> str:
    return escape(version) + retired_mark(fam, version) if version else "-"


def chart_labels(fam: FamilyState, versions) -> Dict[str, str]:
    """``{version: label}`` for the charts: retired versions marked with ``CHART_MARK``."""
    return {v: v + CHART_MARK if fam.status(v) in RETIRED else v for v in versions}


def chart_legend(fam: FamilyState, versions) -> str:
    statuses = sorted({str(fam.status(v)) for v in versions if fam.status(v) in RETIRED})
    return f'<p class="muted">{CHART_MARK.strip()} {" or ".join(statuses)}</p>' if statuses else ""


def default_ledger(toplevel: str) -> Optional[str]:
    """The ledger ``model-registry serve`` writes for this repository, when it exists."""
    from ..serve.settings import ledger_path

    try:
        path = ledger_path(toplevel, None)
    except RegistryError:  # an unreadable serving setting: the report goes on without decisions
        return None
    return str(path) if path.is_file() else None


def decision_counts(ledger: Optional[str]) -> Dict[tuple, Dict[str, int]]:
    """``{(family, version): {route: count}}`` from the decision ledger (none without one)."""
    if ledger is None:
        return {}
    from ..ledger.queries import counts_by_version

    return counts_by_version(ledger)


def stage_segments(fam: FamilyState, lanes, end: int) -> Dict[str, List[tuple]]:
    """``{stage: [(start, stop, version)]}``: each holder from its tag until the next one."""
    segments = {}
    for lane in lanes:
        events = fam.holders_sequence(lane)
        stops = [ev.time for ev in events[1:]] + [end]
        segments[lane] = [(ev.time, stop, ev.label) for ev, stop in zip(events, stops)]
    return segments


def rollback_events(fam: FamilyState) -> list:
    # parsing every stage tag's YAML would be most of the report's time: only bodies that
    # mention a rollback at all are parsed
    return [ev for ev in fam.events if "rollback" in ev.message and ev.meta.get("event") == "rollback"]


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else escape(str(value))


def _data_md5(meta: dict) -> str:
    data = meta.get("data_version")
    if isinstance(data, dict) and data:
        return "<br>".join(f'<code title="{escape(str(p))}: {escape(str(m))}">{escape(str(m)[:10])}</code>'
                           for p, m in data.items())
    return f"<code>{escape(str(data)[:10])}</code>" if isinstance(data, str) else '<span class="muted">-</span>'


def versions_table(fam: FamilyState, metrics: Dict[str, dict], decisions: Dict[tuple, dict]) -> str:
    holders = {stage: fam.holder(stage) for stage in ("production", "canary", "staging")}
    head = "<tr><th>version</th><th>date</th><th>bump and reasons</th><th>released by</th><th>metrics</th>" \
           "<th>data md5</th><th>status</th>" + ("<th>decisions</th>" if decisions else "") + "</tr>"
    rows = []
    for info in reversed(fam.sorted_versions()):
        meta = info.meta
        reasons = meta.get("reasons") if isinstance(meta.get("reasons"), list) else []
        bump = escape(str(meta.get("bump") or "-")) + "".join(f"<br>· {escape(clip(r, 160))}" for r in reasons)
        shown = "<br>".join(f"{escape(k)} {_number(v)}" for k, v in list(metrics[info.vstring].items())[:6])
        holds = [s for s, v in holders.items() if v == info.vstring]
        status = escape(fam.status(info.vstring) or "-") + "".join(
            f' <span class="stage-{s}">[{escape(s)}]</span>' for s in holds)
        cells = [f'<td id="{escape(info.vstring)}"><b>{escape(info.vstring)}</b>{retired_mark(fam, info.vstring)}</td>',
                 f"<td>{iso(info.time)[:16].replace('T', ' ')}</td>", f"<td>{bump}</td>",
                 f"<td>{escape(person(info.by))}</td>", f"<td>{shown or '-'}</td>", f"<td>{_data_md5(meta)}</td>",
                 f"<td>{status}</td>"]
        if decisions:
            routes = decisions.get((fam.name, info.vstring), {})
            cells.append("<td>" + (", ".join(f"{escape(r)} {n}" for r, n in sorted(routes.items())) or "-")
                         + "</td>")
        retired = fam.status(info.vstring) in RETIRED
        rows.append(('<tr class="retired-row">' if retired else "<tr>") + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def rollbacks_list(fam: FamilyState) -> str:
    items = [f'<li class="rollback" data-event="rollback">rollback {iso(ev.time)}: {escape(ev.stage)} → '
             f"{version_html(fam, ev.label)} by {escape(person(ev.by))}"
             + (f" ({escape(clip(ev.meta.get('reason'), 160))})" if isinstance(ev.meta.get("reason"), str) else "")
             + "</li>" for ev in rollback_events(fam) if ev.stage == "production"]
    return f"<ul>{''.join(items)}</ul>" if items else '<p class="muted">No rollbacks.</p>'


def family_page(toplevel: str, fam: FamilyState, decisions: dict, now: int) -> tuple:
    """(the family page's HTML, its index row)."""
    from . import charts

    versions = fam.sorted_versions()
    metrics = {v.vstring: flatten_metrics(v.meta.get("metrics")) for v in versions}
    gates = gate_bounds(toplevel, fam.name)
    main = main_metric(gates, list(metrics.values()))
    names = sorted({n for flat in metrics.values() for n in flat}, key=lambda n: (n != main, n))[:6]
    colours = {v.vstring: charts.colour(i) for i, v in enumerate(versions)}
    end = max(now, fam.last_time + 1)
    segments = stage_segments(fam, charts.LANES, end)
    colours.update({label: "#999999" for lane in segments.values() for _, _, label in lane if label not in colours})
    marks = [(ev.time, ev.stage) for ev in rollback_events(fam) if ev.stage in charts.LANES]
    summary = fam.summary()
    holders = summary["holders"]
    live = ' <span class="live">live canary</span>' if summary["canary_live"] else ""
    labels = chart_labels(fam, [v.vstring for v in versions])
    body = [f'<p><a href="../index.html">← all families</a></p><h1>{escape(fam.name)}</h1>',
            f"<p>latest <b>{version_html(fam, summary['latest'])}</b> · production "
            f"<b>{version_html(fam, holders['production'])}</b> · canary {version_html(fam, holders['canary'])}{live}"
            f" · staging {version_html(fam, holders['staging'])}</p>",
            "<h2>Stage timeline</h2>",
            f'<div class="chart" id="timeline">{charts.timeline_svg(segments, marks, colours, end, labels)}</div>',
            chart_legend(fam, [label for lane in segments.values() for _, _, label in lane]),
            "<h2>Rollbacks</h2>", rollbacks_list(fam), "<h2>Metrics per version</h2>"]
    if names:
        series = {n: [metrics[v.vstring].get(n) for v in versions] for n in names}
        shown_gates = {s: {m: b for m, b in g.items() if m in names} for s, g in gates.items()}
        body.append(f'<div class="chart" id="metrics">'
                    f'{charts.metrics_svg([labels[v.vstring] for v in versions], series, shown_gates)}</div>')
        body.append(chart_legend(fam, [v.vstring for v in versions]))
    else:
        body.append('<p class="muted">No metrics recorded.</p>')
    body += ["<h2>Versions</h2>", versions_table(fam, metrics, decisions)]
    spark = charts.sparkline_svg([metrics[v.vstring].get(main) for v in versions], f"{main} over versions") \
        if main else ""
    row = (f'<tr><td><a href="families/{escape(fam.name)}.html">{escape(fam.name)}</a></td>'
           + "".join(f'<td class="stage-{s}">{version_html(fam, holders[s])}</td>' for s in charts.LANES)
           + f"<td>{version_html(fam, summary['latest'])}</td><td>{'yes' if summary['canary_live'] else '-'}</td>"
           + f"<td class=\"metric\">{spark} <span class=\"muted\">{escape(main or '')}</span></td>"
           + f"<td>{len(versions)}</td><td>{len([e for e in rollback_events(fam) if e.stage == 'production'])}</td></tr>")
    return page(f"{fam.name}: model registry", "\n".join(body)), row


def write_report(repo, output: str, ledger: Optional[str] = None) -> str:
    """Write ``index.html`` and ``families/<name>.html`` under ``output``; the index's path.
    ``ledger`` None: the one ``serve`` writes for the repository, when it exists."""
    from . import charts

    charts.require_matplotlib()
    out = Path(output).absolute()
    decisions = decision_counts(ledger if ledger is not None else default_ledger(repo.toplevel))
    now = int(_time.time())
    pages, rows = {}, []
    for fam in repo.all_families():
        pages[f"families/{fam.name}.html"], row = family_page(repo.toplevel, fam, decisions, now)
        rows.append(row)
    head = ("<tr><th>family</th><th>production</th><th>canary</th><th>staging</th><th>latest</th>"
            "<th>live canary</th><th>main metric</th><th>versions</th><th>rollbacks</th></tr>")
    table = f"<table>{head}{''.join(rows)}</table>" if rows else "<p>No model families registered yet.</p>"
    body = (f"<h1>Model registry</h1><p class=\"muted\">{escape(repo.toplevel)} · written {iso(now)} "
            f"from the git tags</p>{table}")
    pages["index.html"] = page("Model registry", body)
    write_pages(out, pages)
    return str(out / "index.html")


def write_pages(out: Path, pages: Dict[str, str]) -> None:
    """Write ``pages`` (``{relative path: html}``) under ``out``; when that fails, the folders
    this call created are removed again."""
    created = next((p for p in reversed([out / "families", *(out / "families").parents]) if not p.exists()), None)
    try:
        (out / "families").mkdir(parents=True, exist_ok=True)
        for name, html in pages.items():
            (out / name).write_text(html, encoding="utf-8")
    except OSError as error:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise RegistryError(f"cannot write the report to {out}: {error.strerror}") from None
