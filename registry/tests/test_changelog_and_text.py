"""Readable terminal output (history, diff) and the changelog, on real git repositories through
the real CLI."""

import pytest

from vml_testkit.git import commit
from vml_testkit.registry import make_repo, release, run_cli

import versioned_ml_registry as reg
from versioned_ml_registry import api
from versioned_ml_registry.report.text import change_line, diff_lines, history_line, person


@pytest.fixture
def known(tmp_path, monkeypatch):
    """v0.1.0, v0.2.0 and v0.3.0 (a major bump under 0.y.z) of ``m``, each after conventional commits and with new metrics."""
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    release(repo, "m", message="feat: first model", provenance={"metrics": {"accuracy": 0.91}})
    commit(repo, "fix: clip outliers")
    commit(repo, "docs: explain the features")
    release(repo, "m", message="feat(model): add proline", reasons=["metrics improved"],
            provenance={"metrics": {"accuracy": 0.93, "f1": 0.8}})
    commit(repo, "feat!: drop the hue input")
    release(repo, "m", "major", message="chore: retrain", reasons=["inputs removed: hue"],
            provenance={"metrics": {"accuracy": 0.9, "f1": 0.85}})
    return repo


def test_changelog_sections_commits_and_deltas(known):
    proc = run_cli(known, "changelog", "m")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("# Changelog: m\n")
    assert text.index("## [v0.3.0]") < text.index("## [v0.2.0]") < text.index("## [v0.1.0]")
    v1 = text[text.index("## [v0.3.0]"):text.index("## [v0.2.0]")]
    assert "Released by Ada Lovelace on " in v1 and "bump: major" in v1 and "ada@example.com" not in v1
    assert "- inputs removed: hue" in v1
    assert "### Breaking\n\n- feat!: drop the hue input (" in v1
    assert "### Other\n\n- chore: retrain (" in v1
    assert "### Features" not in v1
    assert "### Metrics (against v0.2.0)\n\n- accuracy 0.93 → 0.9 (-0.03)\n- f1 0.8 → 0.85 (+0.05)\n" in v1
    v2 = text[text.index("## [v0.2.0]"):text.index("## [v0.1.0]")]
    assert "### Features\n\n- feat(model): add proline (" in v2
    assert "### Fixes\n\n- fix: clip outliers (" in v2
    assert "### Other\n\n- docs: explain the features (" in v2
    assert "- accuracy 0.91 → 0.93 (+0.02)\n- f1 0.8 (new)\n" in v2
    assert "first model" not in v2  # the previous version's commit is not repeated
    v0 = text[text.index("## [v0.1.0]"):]
    assert "bump: initial" in v0 and "- feat: first model (" in v0 and "- accuracy 0.91 (new)" in v0


def test_changelog_since_and_errors(known):
    text = api.changelog(str(known), "m", since="v0.2.0")
    assert "## [v0.3.0]" in text and "## [v0.2.0]" not in text
    assert "No versions after v0.3.0." in api.changelog(str(known), "m", since="0.3.0")
    proc = run_cli(known, "changelog", "m", "--since", "v9.9.9")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "never released" in proc.stderr


def test_piped_history_has_names_and_whole_reasons(known):
    reg.promote(str(known), "m", "v0.2.0", "staging", reason="QA " + "very long reason " * 20)
    proc = run_cli(known, "history", "m")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) >= 7
    assert "Ada Lovelace" in proc.stdout and "@example.com" not in proc.stdout
    # piped, nothing is cut (on a terminal rows fit 100 columns: test_history_output.py)
    assert any(line.endswith("QA " + ("very long reason " * 20).strip()) for line in lines)
    full = run_cli(known, "history", "m", "--json")
    assert "ada@example.com" in full.stdout and "very long reason " * 20 in full.stdout


def test_history_line_and_person():
    row = {"when": "2026-01-02T03:04:05Z", "family": "a-very-long-family-name", "event": "release",
           "version": "v10.20.30", "stage": None, "by": "Grace Hopper <grace@navy.mil>", "bump": "minor",
           "reason": "x" * 300, "forced": None}
    line = history_line(row)
    assert len(line) == 100 and line.startswith("2026-01-02 03:04  a-very-long…") and "Grace Hopper" in line
    assert person("<bot@example.com>") == "bot@example.com" and person("Name <n@x>") == "Name"


def test_diff_lines_read_as_added_removed_changed():
    assert change_line("model.C", 1.0, None) == "removed model.C (was 1.0)"
    assert change_line("model.penalty", None, "l2") == "added model.penalty = 'l2'"
    assert change_line("model.C", 1.0, 0.01) == "changed model.C: 1.0 → 0.01"
    assert change_line("features", ["a", "c"], ["c", "b"]) == "features: +b -a"
    assert change_line("grid", list(range(13)), list(range(100, 112))) == "grid: list of 13 → 12 items"
    lines = diff_lines({"family": "m", "old": "v0.1.0", "new": "v0.2.0", "bump": "minor", "reasons": ["r"],
                        "params": {"model.C": (1.0, 0.5)}, "metrics": {"accuracy": (0.9, 0.95)}})
    assert lines == ["m v0.1.0 → v0.2.0: minor", "  params:", "    changed model.C: 1.0 → 0.5",
                     "  metrics:", "    changed accuracy: 0.9 → 0.95", "  - r"]
    assert not any("None" in line for line in lines)
