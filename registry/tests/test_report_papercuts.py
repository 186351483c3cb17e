"""``model-registry report``, first-day papercuts: each metric on its own scale, deprecated
versions marked wherever they are named, the ledger ``serve`` writes read without ``--ledger``,
and nothing written when the report fails. Through the real CLI."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from vml_testkit.git import commit
from vml_testkit.registry import make_repo, release, run_cli, to_production

import versioned_ml_registry as reg
from versioned_ml_registry.ledger.store import Decision, LedgerWriter
from versioned_ml_registry.serve.settings import DEFAULT_LEDGER

# price: r2 around 0.8 beside an RMSE around 300, a gate on each, v0.2.0 rolled back
PRICE = [{"rmse": 310.0, "r2": 0.80}, {"rmse": 290.0, "r2": 0.88}, {"rmse": 300.0, "r2": 0.84}]
GATES = ("families:\n  price:\n    registry:\n      gates:\n        production:\n"
         "          rmse: {max: 320}\n          r2: {min: 0.75}\n")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """price (v0.2.0 deprecated between two others) and churn (its latest, v0.2.0, deprecated)."""
    repo = make_repo(tmp_path_factory.mktemp("papercuts") / "repo")
    commit(repo, "chore: gates", {"params.yaml": GATES})
    price = [release(repo, "price", provenance={"metrics": metrics}) for metrics in PRICE[:2]]
    for version in price:
        to_production(repo, "price", version, reason="better")
    reg.rollback(str(repo), "price", reason="complaints")
    price.append(release(repo, "price", provenance={"metrics": PRICE[2]}))
    churn = [release(repo, "churn", provenance={"metrics": {"auc": 0.7 + i / 10}}) for i in range(2)]
    for version in churn:
        to_production(repo, "churn", version, reason="better")
    reg.rollback(str(repo), "churn", reason="complaints")
    assert reg.show(str(repo))["families"]["churn"]["latest"] == "v0.2.0"
    return repo


def report(repo, out, *args) -> dict:
    proc = run_cli(repo, "report", "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    return {path.relative_to(out).as_posix(): path.read_text(encoding="utf-8") for path in out.rglob("*.html")}


@pytest.fixture(scope="module")
def pages(repo, tmp_path_factory):
    return report(repo, tmp_path_factory.mktemp("site") / "site")


def svg_group(html: str, gid: str) -> str:
    """The start of the SVG group matplotlib wrote for the artist whose gid is ``gid``."""
    start = html.index(f'<g id="{gid}"')
    return html[start:html.index("</g>", start)]


def metric_chart(html: str, name: str) -> str:
    """The part of the metrics chart that draws ``name`` (up to the next metric's)."""
    start = html.index(f'id="metric-{name}"')
    ends = [i for i in (html.find('id="metric-', start + 1), html.find("</svg>", start)) if i != -1]
    return html[start:min(ends)]


def path_ys(group: str) -> list[float]:
    d = re.search(r'<path d="([^"]+)"', group).group(1)
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)][1::2]


def test_each_metric_has_its_own_chart_so_none_is_flattened(pages):
    price = pages["families/price.html"]
    assert price.count('<div class="chart"') == 2  # the timeline and the metrics, one drawing each
    for name, other in (("r2", "rmse"), ("rmse", "r2")):
        chart = metric_chart(price, name)
        ys = path_ys(svg_group(chart, f"series-{name}"))
        assert len(ys) == 3
        # each line spans most of its own chart's height: r2 is not drawn flat beside an RMSE of 300
        assert max(ys) - min(ys) > 40, (name, ys)
        # the gate of a metric is drawn in that metric's chart, and only there
        assert f"gate {name}" in chart and f"gate {other}" not in chart
    assert "production gate rmse 320" in price and "production gate r2 0.75" in price


def text_of(html: str) -> str:
    """What a reader sees: the text of the page and of its SVG charts, without tags."""
    return re.sub(r"<[^>]+>", "", html)


@pytest.mark.parametrize("family", ["price", "churn"])
def test_a_deprecated_version_is_marked_wherever_the_report_names_it(pages, family):
    index, page = text_of(pages["index.html"]), text_of(pages[f"families/{family}.html"])
    named = [text[m.end():m.end() + 12] for text in (index, page) for m in re.finditer(r"v0\.2\.0\b", text)]
    assert len(named) >= 3  # the versions table, the timeline, the metrics chart (and churn's "latest")
    assert all(after.startswith((" deprecated", " †")) for after in named), named
    assert "† deprecated" in page  # the charts' legend of the mark
    # versions that are not deprecated are not marked
    assert re.search(r"v0\.1\.0(?! deprecated| †)", page) and "v0.1.0 deprecated" not in page
    if family == "churn":
        latest = re.search(r">churn</a>.*?</tr>", pages["index.html"], re.S).group(0)
        assert "deprecated" in text_of(latest)


def test_the_ledger_serve_writes_is_read_without_ledger(repo, tmp_path):
    ledger = repo / DEFAULT_LEDGER
    writer = LedgerWriter(ledger)
    try:
        for i, route in enumerate(["production", "production", "canary"]):
            writer.append(Decision(f"r{i}", 1_700_000_000.0 + i, "price", "v0.1.0", None, route, [{}], [1.0], 1.0))
    finally:
        writer.close()
    try:
        price = report(repo, tmp_path / "site")["families/price.html"]
    finally:
        for leftover in ledger.parent.glob("ledger.sqlite*"):
            leftover.unlink()
    assert "<th>decisions</th>" in price and "production 2" in price and "canary 1" in price


def test_without_a_ledger_there_is_no_decisions_column(pages):
    assert "<th>decisions</th>" not in pages["families/price.html"]


def one_line_error(proc) -> str:
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def report_without_matplotlib(repo, out):
    """``model-registry report`` where matplotlib cannot be imported, as when it is not installed."""
    script = ("import sys; sys.modules['matplotlib'] = None; "
              "from versioned_ml_registry.cli import main; sys.exit(main())")
    return subprocess.run([sys.executable, "-c", script, "--repo", str(repo), "report", "-o", str(out)],
                          capture_output=True, text=True, cwd=str(repo))


def test_a_report_that_fails_writes_no_folder(repo, tmp_path):
    missing_ledger = run_cli(repo, "report", "-o", str(tmp_path / "a"), "--ledger", str(tmp_path / "none.sqlite"))
    one_line_error(missing_ledger)
    no_matplotlib = report_without_matplotlib(repo, tmp_path / "b")
    assert "needs the report extra: pip install" in one_line_error(no_matplotlib)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_failing_report_leaves_an_earlier_report_as_it_was(repo, tmp_path):
    out = tmp_path / "site"
    before = report(repo, out)
    proc = run_cli(repo, "report", "-o", str(out), "--ledger", str(tmp_path / "none.sqlite"))
    one_line_error(proc)
    assert {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*.html")} == before
    one_line_error(report_without_matplotlib(repo, out))
    assert {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*.html")} == before


def test_the_missing_extra_error_names_an_install_of_this_same_registry(repo, tmp_path):
    """Not a bare index name (which may be absent from the index, or another version): the
    editable folder, URL or version this registry was installed from, with the extra."""
    import json
    import shlex
    from importlib import metadata

    origin = json.loads(metadata.distribution("versioned-ml-registry").read_text("direct_url.json") or "{}")
    stderr = report_without_matplotlib(repo, tmp_path / "site").stderr
    command = stderr[stderr.index("pip install"):].strip()
    assert command.startswith("pip install ")
    words = shlex.split(command)
    if origin.get("dir_info", {}).get("editable"):  # this test venv: `pip install -e ./registry[...]`
        folder = origin["url"].removeprefix("file://")
        assert words == ["pip", "install", "-e", f"{folder}[report]"]
    else:
        assert words[2].startswith("versioned-ml-registry[report]")
