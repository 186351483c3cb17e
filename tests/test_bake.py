"""`cookiecutter --no-input` gives a ready repository: one commit, clean, DVC initialised."""

import json
import os
import re
import subprocess

import pytest
import yaml

from vml_testkit.bake import bake
from vml_testkit.git import git, run
from vml_testkit.paths import TEMPLATE

pytestmark = pytest.mark.slow

JINJA_LEFTOVERS = re.compile(r"\{\{|\{%|%\}")
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")  # `${{ secrets.X }}` in workflows is GitHub's, not Jinja's


def jinja_leftovers(text: str) -> list[str]:
    return [line for line in text.splitlines() if JINJA_LEFTOVERS.search(GITHUB_EXPRESSION.sub("", line))]
STAGES = ["candidate", "staging", "canary", "production", "shadow", "deprecated", "archived"]
# the requirement (name and extras) that hooks/post_gen_project.py pins
REGISTRY = re.search(r'^REGISTRY = "([^"]+)"$', (TEMPLATE / "hooks" / "post_gen_project.py").read_text(),
                     re.MULTILINE).group(1)
# pinned to the template commit (a committed registry/) or, for an uncommitted template, its folder
REGISTRY_PIN = re.compile(re.escape(REGISTRY) + " @ "
                          r"(git\+file:///\S+@[0-9a-f]{40}#subdirectory=registry|file:///\S+/registry)")


def registry_requirement(project) -> str:
    import tomllib

    deps = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    (requirement,) = [d for d in deps if d.startswith("versioned-ml-registry")]
    return requirement


def tracked_files(project):
    return [project / name for name in git(project, "ls-files").splitlines()]


def test_the_default_bake_is_one_clean_commit_with_dvc(baked):
    project = baked
    assert project.name == "wine-cultivar"
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(project, "rev-list", "--count", "HEAD") == "1"
    assert re.match(r"^chore: ", git(project, "log", "-1", "--format=%s"))
    assert git(project, "status", "--porcelain") == ""
    assert (project / ".dvc" / "config").exists()
    assert run(project, "dvc", "status").returncode == 0
    assert (project / "data" / "raw" / "cultivar.csv.dvc").exists()
    assert "data/raw/cultivar.csv" not in git(project, "ls-files").splitlines()
    # the family list and dvc.yaml's families block are written by the bake, from conf/families/
    assert yaml.safe_load((project / "families.yaml").read_text())["family_list"] == \
        {"cultivar": {"data": "data/raw/cultivar.csv"}}
    assert list(yaml.safe_load((project / "dvc.yaml").read_text())["artifacts"]) == ["cultivar"]
    assert "dvc_plots/" in (project / ".gitignore").read_text().splitlines()


def test_no_template_syntax_is_left_in_any_generated_file(tmp_path):
    project = bake(tmp_path, project_name="Grape Lab", model_family="grape-type")
    files = tracked_files(project)
    assert len(files) > 20
    leftovers = [(str(f), line) for f in files for line in jinja_leftovers(f.read_text(errors="replace"))]
    assert leftovers == []
    # the project holds no registry source: it depends on the registry distribution, pinned
    assert not (project / "src" / "grape_lab" / "registry").exists()
    assert not list((project / "src").rglob("bundle*.py"))
    assert REGISTRY_PIN.fullmatch(registry_requirement(project)), registry_requirement(project)
    assert yaml.safe_load((project / "dvc.yaml").read_text())["artifacts"]["grape-type"]["path"] == "models/grape-type"


def test_the_local_remote_is_a_folder_beside_the_repo(baked):
    project = baked
    assert run(project, "dvc", "config", "core.remote").stdout.strip() == "local"
    url = run(project, "dvc", "config", "remote.local.url").stdout.strip()
    assert url == str(baked.parent / "wine-cultivar-dvc-storage")


def test_an_s3_remote_keeps_endpoint_and_credentials_out_of_git(tmp_path):
    project = bake(tmp_path, dvc_remote="s3", s3_url="s3://team-models/wine")
    config = (project / ".dvc" / "config").read_text()
    assert "url = s3://team-models/wine" in config
    assert "endpoint" not in config and "secret" not in config
    (project / ".dvc" / "config.local").write_text("['remote \"storage\"']\n    endpointurl = http://127.0.0.1:1\n")
    assert git(project, "status", "--porcelain") == ""
    assert "dvc-s3" in (project / "pyproject.toml").read_text()


def test_answers_are_recorded_for_template_updates(tmp_path):
    project = bake(tmp_path, model_family="grape")
    answers = json.loads((project / ".cookiecutter.json").read_text())
    assert answers["model_family"] == "grape" and answers["package"] == "wine_cultivar"
    assert "_output_dir" not in answers and "_repo_dir" not in answers
    head = git(TEMPLATE, "rev-parse", "HEAD")
    if git(TEMPLATE, "status", "--porcelain", "--", "registry") == "":
        # a committed template: cruft follows it, and the registry is pinned to that commit
        cruft = json.loads((project / ".cruft.json").read_text())
        assert cruft["template"] == str(TEMPLATE) and cruft["commit"] == head
        assert cruft["context"]["cookiecutter"]["model_family"] == "grape"
        assert registry_requirement(project) == \
            f"{REGISTRY} @ git+{TEMPLATE.as_uri()}@{head}#subdirectory=registry"
    else:  # registry/ has uncommitted changes: no commit to pin, the folder itself is installed
        assert not (project / ".cruft.json").exists()
        assert registry_requirement(project) == f"{REGISTRY} @ {(TEMPLATE / 'registry').as_uri()}"


def test_the_gto_file_lists_the_lifecycle_stages(baked):
    project = baked
    assert yaml.safe_load((project / ".gto").read_text())["stages"] == STAGES


def test_a_machine_without_git_identity_still_gets_a_first_commit(tmp_path, capfd):
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("GIT_AUTHOR") or key.startswith("GIT_COMMITTER")}
    try:
        assert subprocess.run(["git", "config", "user.name"], capture_output=True).returncode != 0
        project = bake(tmp_path, author_name="Ada Lovelace", author_email="ada@example.com")
    finally:
        os.environ.update(saved)
    assert git(project, "log", "-1", "--format=%an <%ae>") == "Ada Lovelace <ada@example.com>"
    assert "git has no user configured" in capfd.readouterr().out
