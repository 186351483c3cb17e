"""Answers never become code, and names the tools cannot carry are refused at bake time.

Every answer that reaches Python, TOML, YAML (hydra-composed or not) or a shell in the baked
repository is escaped for that language, or refused by `pre_gen` with one `error:` line per
answer and nothing left behind. A free-text answer that bakes is found verbatim in
pyproject.toml, the composed params.yaml (the model card), README.md and the package
docstring, and the project's own Python still imports and composes its config.

One bake per hostile value, with every free-text answer set to it at once.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from jinja2 import TemplateSyntaxError

from vml_testkit.bake import bake
from vml_testkit.env import project_env
from vml_testkit.git import git, run

MARKER = "PWNED"
PAYLOAD_DOUBLE = '"""; import pathlib; pathlib.Path("PWNED").touch(); """'
PAYLOAD_SINGLE = "'''; import pathlib; pathlib.Path('PWNED').touch(); '''"
EMAIL = "o'neil+${HOME}@example.com"  # valid (dot-atom) yet full of quoting and hydra traps

# The longest names pre_gen accepts (see hooks/pre_gen_project.py).
NAME_LIMIT = 100
# git writes a tag as the file .git/refs/tags/<tag> through <tag>.lock: 255 - len(".lock")
# bytes; the longest tag of a family is <family>@v<10 digits>.<10 digits>.<10 digits>.
TAG_LIMIT = 255 - len(".lock")
LONGEST_VERSION = "@v" + ".".join(["9" * 10] * 3)
LONGEST_STAGE = "#deprecated#" + "9" * 10
FAMILY_LIMIT = TAG_LIMIT - max(len(LONGEST_VERSION), len(LONGEST_STAGE))

LONG = ('A 5,000-character answer with "quotes", \'quotes\', \\ and \\${x}. ' * 100)[:5000]
# value -> extra answers of that bake (the longest names ride along with the long value)
LITERAL = {
    "quotes": ("Bob's \"quoted\" model", {}),
    "trailing-double-quote": ('A model that ends in a quote"', {}),
    "backslashes": ("C:\\Nodes\\x, \\${not hydra}, \\\\${x} and a trailing \\", {}),
    "triple-double-quotes": (PAYLOAD_DOUBLE, {}),
    "triple-single-quotes": (PAYLOAD_SINGLE, {}),
    "hydra-interpolation": ("${oc.env:HOME} and ${now:%Y} and ${card.description} and ${unclosed", {}),
    "unicode": ("Vinhos dos Açores — 葡萄酒 🍷 Ωmega ‘curly’ “quotes” ﬁ \u200d", {}),
    "5000-characters": (LONG, {"project": "p" * NAME_LIMIT, "package": "p" * NAME_LIMIT,
                               "model_family": "f" * FAMILY_LIMIT}),
}
FREE_TEXT = ("project_name", "description", "author_name", "author_email")
SLUGS = ("project", "package", "model_family")
SAFE = {"project": "hostile-answers", "package": "hostile_answers"}

# Values refused in every slug answer and in author_email (not an e-mail address).
HOSTILE = {
    "single-quote": "it's",
    "double-quote": 'say "hi"',
    "trailing-double-quote": 'ends"',
    "backslashes": "C:\\Nodes\\x",
    "triple-double-quotes": PAYLOAD_DOUBLE,
    "triple-single-quotes": PAYLOAD_SINGLE,
    "hydra-env": "${oc.env:HOME}",
    "hydra-now": "${now:%Y}",
    "jinja-expression": "{{ 7*7 }}",
    "newline": "two\nlines",
    "unicode": "café-🍷",
    "5000-characters": "a" * 5000,
    "parent-folder": "../x",
}


def errors(capfd) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]


def no_marker_anywhere(*roots: Path) -> None:
    found = [str(path) for root in roots for path in root.rglob(MARKER)]
    assert found == [], f"an answer ran as code: {found}"


def python(project: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=project, env=project_env(project),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LITERAL))
def test_a_hostile_free_text_answer_bakes_literally_and_never_runs(tmp_path, monkeypatch, name):
    value, extra = LITERAL[name]
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave its marker under tmp_path
    answers = {**SAFE, "project_name": value, "description": value, "author_name": value,
               "author_email": EMAIL, **extra}
    project = bake(tmp_path / "out", **answers)
    package, description = answers["package"], answers["description"]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pyproject["description"] == description
    assert pyproject["authors"] == [{"name": value, "email": EMAIL}]

    # the model card: the example family's conf composed by hydra into params.yaml, interpolation inert
    python(project, "-m", f"{package}.config")
    card = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))["families"][answers.get("model_family", "cultivar")]["card"]
    assert card["description"] == description
    assert card["owners"] == [f"{value} <{EMAIL}>"]

    readme = (project / "README.md").read_text(encoding="utf-8")
    assert value in readme and description in readme

    doc = python(project, "-c", f"import json, {package}; print(json.dumps({package}.__doc__))").stdout
    assert json.loads(doc) == f"{value}: {description}"
    # dvc.yaml (which DVC interpolates) carries no answer, only the validated family name
    artifacts = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["artifacts"]
    assert all(description not in str(artifact) for artifact in artifacts.values())
    assert run(project, "dvc", "status").returncode == 0

    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert {key: recorded[key] for key in answers} == answers

    # what `pip install -e .` reads: setuptools accepts the metadata and keeps the text
    metadata = python(project, "-c", (
        "import pathlib, tempfile, setuptools.build_meta as b; d = tempfile.mkdtemp(); "
        "print((pathlib.Path(d) / b.prepare_metadata_for_build_wheel(d) / 'METADATA').read_text())"))
    assert f"Summary: {description}\n" in metadata.stdout

    assert git(project, "status", "--porcelain") == ""
    no_marker_anywhere(tmp_path)


@pytest.mark.slow
def test_the_longest_accepted_family_can_hold_its_longest_tags(tmp_path):
    """The family-length limit is exactly what git can tag: both longest tags fit."""
    family = "f" * FAMILY_LIMIT
    project = bake(tmp_path, **SAFE, model_family=family)
    for tag in (family + LONGEST_VERSION, family + LONGEST_STAGE):
        git(project, "tag", "-a", "-m", "limit", tag)
    one_more = subprocess.run(["git", "tag", "-a", "-m", "limit", "f" + family + LONGEST_VERSION],
                              cwd=project, capture_output=True, text=True)
    assert one_more.returncode != 0 and "too long" in one_more.stderr


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_name_or_email_is_refused_with_one_line_each(tmp_path, capfd, monkeypatch, name):
    value = HOSTILE[name]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    refused = (*SLUGS, "author_email")
    with pytest.raises(FailedHookException):
        bake(out, **{answer: value for answer in refused})
    lines = errors(capfd)
    assert sorted(line.split(" ")[1] for line in lines) == sorted(refused), lines
    assert all(len(line) < 400 for line in lines), "a refusal is one short line"
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    no_marker_anywhere(tmp_path)


@pytest.mark.parametrize("value", ["two\nlines", "tab\there", "nul\x00byte", "{{ 7*7 }}", "{# note #}"],
                         ids=["newline", "tab", "nul", "jinja-expression", "jinja-comment"])
def test_free_text_that_cannot_stay_literal_is_refused_with_one_line_each(tmp_path, capfd, value):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(out, **SAFE, **{answer: value for answer in FREE_TEXT})
    lines = errors(capfd)
    assert sorted(line.split(" ")[1] for line in lines) == sorted(FREE_TEXT), lines
    assert list(out.iterdir()) == []


def test_jinja_typed_at_the_prompt_is_refused_not_evaluated(tmp_path, capfd, monkeypatch):
    """Typed answers reach pre_gen unrendered: refused, since cruft would render them later."""
    import cookiecutter.prompt

    typed = {**SAFE, "description": "{{ 7*7 }}", "author_name": "{% raw %}"}
    monkeypatch.setattr(cookiecutter.prompt, "read_user_variable",
                        lambda name, default, *args, **kwargs: typed.get(name, default))
    monkeypatch.setattr(cookiecutter.prompt, "read_user_choice", lambda name, options, *args, **kwargs: options[0])
    out = tmp_path / "out"
    out.mkdir()
    from cookiecutter.main import cookiecutter as run_cookiecutter
    from vml_testkit.paths import TEMPLATE

    with pytest.raises(FailedHookException):
        run_cookiecutter(str(TEMPLATE), no_input=False, output_dir=str(out))
    assert errors(capfd) == [
        "error: description '{{ 7*7 }}' contains Jinja syntax ('{{', '{%' or '{#'), which cookiecutter "
        "and cruft evaluate in answers: leave it out",
        "error: author_name '{% raw %}' contains Jinja syntax ('{{', '{%' or '{#'), which cookiecutter "
        "and cruft evaluate in answers: leave it out",
    ]
    assert list(out.iterdir()) == []


def test_jinja_given_on_the_command_line_is_refused_or_stops_cookiecutter(tmp_path, capfd):
    """cookiecutter renders --no-input/extra_context answers itself, before any hook runs:
    pre_gen sees what was given and refuses it; Jinja that does not even parse stops
    cookiecutter there, before anything is written."""
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(out, **SAFE, description="{% raw %}")
    assert errors(capfd) == ["error: description '{% raw %}' contains Jinja syntax ('{{', '{%' or '{#'), "
                             "which cookiecutter and cruft evaluate in answers: leave it out"]
    with pytest.raises(TemplateSyntaxError):
        bake(out, **SAFE, description="a {% raw %} b")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("folder", ["../escape", "ABSOLUTE"])
def test_the_private_folder_answer_cannot_leave_the_output_dir(tmp_path, capfd, folder):
    out = tmp_path / "out"
    out.mkdir()
    target = str(tmp_path / "escape") if folder == "ABSOLUTE" else folder
    with pytest.raises(FailedHookException):
        bake(out, **SAFE, __project_folder=target)
    lines = errors(capfd)
    assert len(lines) == 1 and lines[0].startswith(f"error: __project_folder {target!r}"), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and list(out.iterdir()) == []


@pytest.mark.parametrize("answer, length, limit", [
    ("project", 101, NAME_LIMIT),
    ("project", 300, NAME_LIMIT),
    ("package", 300, NAME_LIMIT),
    ("model_family", FAMILY_LIMIT + 1, FAMILY_LIMIT),
])
def test_an_over_long_name_is_refused_with_its_limit(tmp_path, capfd, answer, length, limit):
    out = tmp_path / "out"
    out.mkdir()
    value = ("a" if answer != "package" else "p") * length
    answers = {**SAFE, answer: value}
    if answer == "project":
        answers["package"] = "p"  # so only the project is wrong
    with pytest.raises(FailedHookException):
        bake(out, **answers)
    lines = errors(capfd)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {answer} '{value[:20]}") and f"({length} characters)" in lines[0]
    assert f"at most {limit} characters" in lines[0]
    assert len(lines[0]) < 400
    assert list(out.iterdir()) == []
