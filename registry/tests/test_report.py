"""``model-registry report``: the static site for a repository with several families, releases,
promotions, a live canary, a rollback and a gate; through the real CLI."""

from __future__ import annotations

import re

import pytest

from vml_testkit.registry import run_cli
from vml_testkit.report import HOSTILE, build_registry

from versioned_ml_registry.ledger.store import Decision, LedgerWriter


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The registry and its report (written once for the module's tests)."""
    base = tmp_path_factory.mktemp("report")
    built = build_registry(base / "repo")
    out = base / "site"
    proc = run_cli(built["repo"], "report", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "index.html")
    return dict(built, out=out)


def read(site, name: str) -> str:
    return (site["out"] / name).read_text(encoding="utf-8")


def test_index_lists_every_family_with_its_holders(site):
    index = read(site, "index.html")
    for family, versions in site["families"].items():
        assert f'<a href="families/{family}.html">{family}</a>' in index
        assert versions[-1] in index
    intent = index[index.index(">intent</a>"):]
    intent = intent[:intent.index("</tr>")]
    assert re.findall(r'<td class="stage-(\w+)">(v[\d.]+|-)</td>', intent) == [
        ("production", "v0.1.0"), ("canary", "v0.3.0"), ("staging", "v0.3.0")]
    assert "<td>yes</td>" in intent and '<svg class="spark"' in intent and "accuracy" in intent
    assert "http://" not in index.replace("http://www.w3.org", "") and "<script" not in index


def test_family_pages_have_charts_versions_rollbacks_and_gates(site):
    intent = read(site, "families/intent.html")
    for version in site["families"]["intent"]:
        assert f'<td id="{version}"><b>{version}</b>' in intent
    assert intent.count('<div class="chart"') == 2 and intent.count("<svg") == 2
    assert 'class="rollback" data-event="rollback"' in intent and ">rollback</text>" in intent
    assert "production → v0.1.0 by Test Author" in intent and "author@example.com" not in intent
    assert "aaaaaaaaaa" in intent and "deprecated" in intent and "live canary" in intent
    churn = read(site, "families/churn.html")
    assert "production gate rmse 12" in churn and "No rollbacks." in churn
    assert "No metrics recorded." not in read(site, "families/fraud.html")


def test_text_from_tags_is_escaped(site):
    intent = read(site, "families/intent.html")
    assert HOSTILE not in intent and "<script" not in intent
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in intent


def test_decisions_per_version_from_a_ledger(site, tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    writer = LedgerWriter(ledger)
    for i, (version, route) in enumerate([("v0.1.0", "production")] * 3 + [("v0.3.0", "canary")]):
        writer.append(Decision(f"r{i}", 1_700_000_000.0 + i, "intent", version, None, route, [{}], ["a"], 1.0))
    writer.close()
    out = tmp_path / "site"
    proc = run_cli(site["repo"], "report", "-o", str(out), "--ledger", str(ledger))
    assert proc.returncode == 0, proc.stderr
    intent = (out / "families" / "intent.html").read_text()
    assert "<th>decisions</th>" in intent and "<td>production 3</td>" in intent and "<td>canary 1</td>" in intent


def test_errors_are_one_line(site, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for args in (["-o", str(blocker)], ["-o", str(tmp_path / "x"), "--ledger", str(tmp_path / "none.sqlite")]):
        proc = run_cli(site["repo"], "report", *args)
        assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
