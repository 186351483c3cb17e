"""The generated GitHub Actions workflows: rendered for both remotes, linted, and checked.

Rendering uses the cookiecutter API with ``accept_hooks=False``: only the rendered files are
read here (test_bake.py covers the hooks), and skipping git/dvc init keeps this module fast.

Checks:
- actionlint (vml_testkit's lint-requirements.txt, installed into .cache/lint-venv on first use);
- structure (yaml): triggers, the commands each workflow runs, secrets only for S3;
- the deploy workflow's tag filters, evaluated with GitHub's filter-pattern rules
  (``github_filter_match`` below), match the real stage tags and nothing else (iterative/gto#354).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

from vml_testkit.paths import TEMPLATE
from vml_testkit.venvs import ServerError, actionlint_executable
WORKFLOWS = ("pr.yml", "release.yml", "deploy.yml", "release-train.yml")


# --------------------------------------------------------------------------- GitHub filter patterns


def _filter_regex(pattern: str) -> re.Pattern:
    """Translate one GitHub Actions filter pattern (branches/tags/paths) into a regex.

    Per GitHub's "Filter pattern cheat sheet": ``*`` matches zero or more characters but not
    ``/``; ``**`` zero or more of any character; ``?`` zero or one of the preceding character;
    ``+`` one or more of the preceding character; ``[]`` one character listed or in a range
    (a-z, A-Z, 0-9); ``\\`` escapes the next character. Everything else, ``#`` and ``@``
    included, is literal. (A leading ``!`` is handled by ``github_filter_match``.)
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
            else:
                out.append("[^/]*")
                i += 1
        elif c in "?+":
            if not out or out[-1] in (".*", "[^/]*"):
                raise ValueError(f"{c!r} with nothing to repeat in {pattern!r}")
            out[-1] = f"(?:{out[-1]}){c}"
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise ValueError(f"unclosed '[' in {pattern!r}")
            body = pattern[i + 1:end]
            if not re.fullmatch(r"(?:[a-z]-[a-z]|[A-Z]-[A-Z]|[0-9]-[0-9]|[^\]\-])+", body):
                raise ValueError(f"bad character class [{body}] in {pattern!r}")
            out.append("[" + "".join(ch if ch == "-" else re.escape(ch) for ch in body) + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def github_filter_match(patterns: list[str], name: str) -> bool:
    """Whether ``name`` passes a GitHub ``branches``/``tags`` filter list.

    Patterns apply in order: a pattern starting with ``!`` negates the earlier positive matches,
    a later positive pattern can include the name again.
    """
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _filter_regex(pattern[1:]).fullmatch(name):
                matched = False
        elif _filter_regex(pattern).fullmatch(name):
            matched = True
    return matched


@pytest.mark.parametrize(
    "pattern, matches, misses",
    [  # the examples of GitHub's cheat sheet, and the characters of our tags
        ("feature/*", ["feature/my-branch", "feature/your-branch"], ["feature/a/b", "feature"]),
        ("feature/**", ["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"], []),
        ("*", ["main", "releases"], ["main/x"]),
        ("**", ["all/the/branches", "every/tag"], []),
        ("*feature", ["mona-feature", "feature", "ver-10-feature"], ["feature-x"]),
        ("v2*", ["v2", "v2.0", "v2.9"], ["v3"]),
        ("v[12].[0-9]+.[0-9]+", ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1.0", "v1.x.0"]),
        ("Octoc?t", ["Octoct", "Octot"], ["Octocct"]),  # zero or one of the PRECEDING char
        ("**.jsx?", ["page.js", "page.jsx", "a/b.js"], ["page.jsxx"]),
        ("a\\*b", ["a*b"], ["axb"]),
        ("m#production#[0-9]+", ["m#production#1", "m#production#12"], ["m#production#", "m#production#1x", "m@v1.0.0"]),
        ("m@v*", ["m@v1.0.0", "m@v0.1.0"], ["m#production#1", "mm@v1.0.0"]),
    ],
)
def test_filter_pattern_semantics(pattern, matches, misses):
    for name in matches:
        assert github_filter_match([pattern], name), (pattern, name)
    for name in misses:
        assert not github_filter_match([pattern], name), (pattern, name)


def test_filter_negation_order():
    patterns = ["releases/**", "!releases/**-alpha", "releases/keep-alpha"]
    assert github_filter_match(patterns, "releases/10")
    assert not github_filter_match(patterns, "releases/beta/3-alpha")
    assert github_filter_match(patterns, "releases/keep-alpha")


# --------------------------------------------------------------------------- rendering

CASES = {
    "local": {"dvc_remote": "local", "model_family": "cultivar", "python_version": "3.11"},
    "s3": {"dvc_remote": "s3", "model_family": "intent", "python_version": "3.12",
           "s3_url": "s3://ml-artifacts/wine"},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request, tmp_path_factory):
    answers = CASES[request.param]
    out = tmp_path_factory.mktemp(f"wf-{request.param}")
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(out),
                                extra_context=answers, accept_hooks=False))
    wf_dir = project / ".github" / "workflows"
    docs = {name: (wf_dir / name).read_text() for name in WORKFLOWS}
    return {"answers": answers, "dir": wf_dir, "text": docs,
            "yaml": {name: yaml.safe_load(text) for name, text in docs.items()}, "project": project}


def _on(wf: dict) -> dict:
    return wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True


def _runs(wf: dict) -> list[str]:
    return [step.get("run", "") for job in wf["jobs"].values() for step in job["steps"]]


def _uses(wf: dict) -> list[dict]:
    return [step for job in wf["jobs"].values() for step in job["steps"] if "uses" in step]


def _index(runs: list[str], needle: str) -> int:
    for i, run in enumerate(runs):
        if needle in run:
            return i
    raise AssertionError(f"no step runs {needle!r}:\n" + "\n---\n".join(runs))


def test_rendered_without_leftover_template_syntax(rendered):
    for name, text in rendered["text"].items():
        assert "cookiecutter" not in text, f"{name}: unrendered cookiecutter variable"
        assert "{%" not in text and "%}" not in text, f"{name}: leftover Jinja block"
        assert text.count("${{") == text.count("}}"), f"{name}: unbalanced GitHub expressions"
    for name in ("pr.yml", "deploy.yml"):  # both always use GitHub expressions
        assert "${{ github." in rendered["text"][name], f"{name}: expressions eaten by Jinja"


def test_actionlint(rendered):
    try:
        exe = actionlint_executable()
    except ServerError as exc:  # the package could not be installed on this machine
        pytest.skip(f"actionlint not installable here: {str(exc).splitlines()[0]}")
    if exe is None:
        pytest.skip("actionlint package installed no executable")
    files = [str(rendered["dir"] / name) for name in WORKFLOWS]
    proc = subprocess.run([str(exe), "-no-color", *files], capture_output=True, text=True,
                          cwd=rendered["project"], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_errors(tmp_path):
    """The linter really runs: a broken workflow is reported."""
    try:
        exe = actionlint_executable()
    except ServerError as exc:
        pytest.skip(f"actionlint not installable here: {str(exc).splitlines()[0]}")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.no_such_thing }}\n")
    proc = subprocess.run([str(exe), "-no-color", str(bad)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "no_such_thing" in proc.stdout


def test_setup_is_the_projects(rendered):
    python = rendered["answers"]["python_version"]
    for name, wf in rendered["yaml"].items():
        steps = _uses(wf)
        checkout = next(s for s in steps if s["uses"].startswith("actions/checkout@"))
        assert checkout["with"]["fetch-depth"] == 0, name
        setup = next(s for s in steps if s["uses"].startswith("actions/setup-python@"))
        assert str(setup["with"]["python-version"]) == python, name
        runs = _runs(wf)
        _index(runs, "git fetch --force --tags")  # annotated tags, not checkout's lightweight ones
        if name == "deploy.yml":  # only the registry, as pinned (test_deploy_installs_the_pinned_registry)
            _index(runs, "versioned-ml-registry")
        else:  # the project with its pinned registry and test tools, as a developer installs it
            _index(runs, 'pip install -e ".[test,xgboost,lightgbm]"')


# The deploy job's install step: a python program (reading pyproject.toml) and its arguments.
DEPLOY_PICK = re.compile(r"python -c '\n(.*?)\n' ([^)\n]*)\)", re.DOTALL)


def _deploy_pick(wf: dict) -> tuple[str, list[str]]:
    runs = _runs(wf)
    step = runs[_index(runs, "versioned-ml-registry")]
    found = DEPLOY_PICK.search(step)
    assert found, step
    return found.group(1), found.group(2).split()


PINNED = "git+file:///srv/template.git@0123456789abcdef0123456789abcdef01234567#subdirectory=registry"


@pytest.mark.parametrize("pin", ["", f" @ {PINNED}"], ids=["unpinned", "pinned"])
def test_deploy_installs_the_pinned_registry(rendered, tmp_path, pin):
    """Resolving a stage needs the registry's tag commands only: the deploy job installs the
    registry requirement of pyproject.toml (at its pin, without extras), plus the project's
    dvc pins when it fetches from S3, never the project itself before it resolves."""
    project = tmp_path / "project"
    project.mkdir()
    text = (rendered["project"] / "pyproject.toml").read_text()
    lines = re.findall(r'^ *"(versioned-ml-registry\[[^"\]]*\])",$', text, re.MULTILINE)
    assert len(lines) == 1, lines  # the line post_gen_project.py pins (not run here)
    (project / "pyproject.toml").write_text(text.replace(f'"{lines[0]}",', f'"{lines[0]}{pin}",'))
    program, args = _deploy_pick(rendered["yaml"]["deploy.yml"])
    done = subprocess.run([sys.executable, "-c", program, *args], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    picked = done.stdout.splitlines()
    assert f"versioned-ml-registry{pin}" in picked, picked
    others = sorted(re.match(r"[a-z0-9-]+", r).group(0) for r in picked if not r.startswith("versioned-ml-registry"))
    assert others == (["dvc", "dvc-s3"] if rendered["answers"]["dvc_remote"] == "s3" else []), picked
    runs = _runs(rendered["yaml"]["deploy.yml"])
    install = _index(runs, "versioned-ml-registry")
    assert install < _index(runs, "model-registry resolve")
    assert not any("pip install -e" in r for r in runs[:_index(runs, "model-registry resolve") + 1])


def test_pr_workflow(rendered):
    wf = rendered["yaml"]["pr.yml"]
    assert "pull_request" in _on(wf)
    runs = _runs(wf)
    assert _index(runs, "pip install -e") < _index(runs, "dvc repro") < _index(runs, "pytest")
    family = rendered["answers"]["model_family"]
    assert f"@{family}" not in runs[_index(runs, "dvc repro")], "the pipeline runs over every family"
    if rendered["answers"]["dvc_remote"] == "s3":
        assert _index(runs, "dvc pull") < _index(runs, "dvc repro")
        assert runs[_index(runs, "dvc repro")].strip() == "dvc repro"
    else:
        assert not any("dvc pull" in r for r in runs), "a local remote cannot be pulled in CI"
        # every family whose data CI can rebuild, listed by the project's own command
        assert 'dvc repro "propose@$family"' in runs[_index(runs, "dvc repro")]


def test_release_workflow(rendered):
    wf = rendered["yaml"]["release.yml"]
    family = rendered["answers"]["model_family"]
    assert _on(wf)["push"]["branches"] == ["main"]
    runs = _runs(wf)
    assert _index(runs, "dvc repro") < _index(runs, "git diff --exit-code dvc.lock")
    if rendered["answers"]["dvc_remote"] == "s3":
        assert wf["permissions"]["contents"] == "write"
        assert _index(runs, "dvc pull") < _index(runs, "dvc repro")
        assert _index(runs, "git diff --exit-code dvc.lock") \
            < _index(runs, 'model-registry release "$family" --if-changed') < _index(runs, "model-registry push")
        assert f"release {family}" not in "".join(runs), "the release job loops over families.yaml, not one family"
        assert not any("git push" in r for r in runs), "tags go out only through model-registry push"
        notes = _index(runs, "model-registry changelog")
        assert _index(runs, "model-registry push") < notes and 'gh release create "$tag"' in runs[notes]
    else:
        assert not any("model-registry push" in r or "git push" in r for r in runs), \
            "with a local remote CI cannot publish artifacts, so it must not publish tags"


def test_deploy_workflow(rendered):
    wf = rendered["yaml"]["deploy.yml"]
    on = _on(wf)
    assert set(on) == {"push"} and "branches" not in on["push"]
    runs = _runs(wf)
    resolve = _index(runs, 'model-registry resolve "$family" --stage')
    assert "cut -d'#' -f1" in runs[resolve], "the family comes from the tag"
    if rendered["answers"]["dvc_remote"] == "s3":
        assert resolve < _index(runs, 'dvc artifacts get . "$FAMILY"')
    else:  # the rebuild installs the project as it was at the resolved version, then reproduces it
        assert resolve < _index(runs, "dvc repro")
        rebuild = runs[_index(runs, "dvc repro")]
        assert rebuild.index("git checkout --detach") < rebuild.index("pip install -e .") < rebuild.index("dvc repro")


def test_deploy_tag_filters_match_real_tags(rendered):
    """Every family's production and staging assignments deploy; nothing else does."""
    family = rendered["answers"]["model_family"]
    tags = _on(rendered["yaml"]["deploy.yml"])["push"]["tags"]
    assert all("#" in t for t in tags), f"a '#' was read as a YAML comment: {tags}"
    should = [f"{family}#production#1", f"{family}#production#12", f"{family}#production#307",
              f"{family}#staging#3", "diabetes#production#1", "churn-v2#staging#14", "a_b#production#2"]
    should_not = [
        f"{family}@v1.0.0", f"{family}@v0.1.0", "diabetes@v1.0.0",   # versions are not deployments
        f"{family}#candidate#2", f"{family}#deprecated#4", f"{family}#canary#5", "diabetes#shadow#3",
        f"{family}#production!#3",                          # GTO unassign syntax (never written)
        f"{family}#production#", f"{family}#production#12x", f"{family}#production#1/2",
        f"team/{family}#production#1",                      # not a family name
    ]
    for tag in should:
        valid = subprocess.run(["git", "check-ref-format", f"refs/tags/{tag}"])
        assert valid.returncode == 0, f"{tag} is not a valid git tag name"
        assert github_filter_match(tags, tag), f"{tags} must match {tag}"
    for tag in should_not:
        assert not github_filter_match(tags, tag), f"{tags} must not match {tag}"


RELEASE_LIST = re.compile(r"families=\$\(python -c '(.*?)'\)")


def test_release_loops_over_every_family_in_families_yaml(rendered, tmp_path):
    """The release job's family list is families.yaml's, as the project writes it (with a local
    remote CI cannot upload artifacts, so it releases nothing)."""
    runs = _runs(rendered["yaml"]["release.yml"])
    if rendered["answers"]["dvc_remote"] != "s3":
        assert not any("model-registry release" in run for run in runs)
        return
    step = runs[_index(runs, "model-registry release")]
    program = RELEASE_LIST.search(step).group(1)
    (tmp_path / "families.yaml").write_text("# written by add-family\nfamily_list:\n"
                                            "  cultivar:\n    data: data/raw/cultivar.csv\n"
                                            "  diabetes:\n    data: data/raw/diabetes.csv\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cultivar", "diabetes"]
    assert step.index("for family in $families") < step.index('model-registry release "$family" --if-changed')


def test_s3_credentials_only_for_s3(rendered):
    texts = "\n".join(rendered["text"].values())
    if rendered["answers"]["dvc_remote"] == "s3":
        for name, wf in rendered["yaml"].items():
            env = wf.get("env", {})
            assert env.get("AWS_ACCESS_KEY_ID") == "${{ secrets.AWS_ACCESS_KEY_ID }}", name
            assert env.get("AWS_SECRET_ACCESS_KEY") == "${{ secrets.AWS_SECRET_ACCESS_KEY }}", name
        assert "secrets.AWS_ENDPOINT_URL" in texts
    else:
        assert "AWS_" not in texts and "secrets." not in texts


def test_team_guide_rendered(rendered):
    text = (rendered["project"] / "docs" / "TEAM.md").read_text()
    family = rendered["answers"]["model_family"]
    assert "cookiecutter" not in text and "{%" not in text
    for needle in (".dvc/config.local", "AWS_ENDPOINT_URL", f"{family}@v*", "force", "deletion",
                   "promote", "--push", "release.yml", "deploy.yml", "git push --atomic"):
        assert needle in text, needle
    if rendered["answers"]["dvc_remote"] == "s3":
        assert rendered["answers"]["s3_url"] in text


def test_release_notes_are_the_changelog_section_of_the_new_version(rendered, tmp_path):
    """The release step cuts the new version's section out of `model-registry changelog`."""
    if rendered["answers"]["dvc_remote"] != "s3":
        assert not any("gh release" in run for run in _runs(rendered["yaml"]["release.yml"]))
        return
    step = next(run for run in _runs(rendered["yaml"]["release.yml"]) if "model-registry changelog" in run)
    program = re.search(r"awk -v head=\"## \[\$\{tag#\*@\}\]\" '([^']+)'", step).group(1)
    changelog = ("# intent\n\n## [v0.3.0] - 2026-11-02\n\nminor: better\n\n### Features\n\n- feat: x\n\n"
                 "## [v0.2.0] - 2026-11-01\n\npatch: older\n")
    done = subprocess.run(["awk", "-v", "head=## [v0.3.0]", program], input=changelog, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## [v0.3.0]") and "feat: x" in done.stdout and "v0.2.0" not in done.stdout

