"""Validate every answer before cookiecutter writes anything.

A bad answer prints one line saying which answer is wrong and what is allowed, and exits
non-zero; cookiecutter then removes the half-made project folder.
"""

import keyword
import re
import sys

ANSWERS = {
    "project": {{ cookiecutter.project | tojson }},
    "package": {{ cookiecutter.package | tojson }},
    "model_family": {{ cookiecutter.model_family | tojson }},
    "dvc_remote": {{ cookiecutter.dvc_remote | tojson }},
    "s3_url": {{ cookiecutter.s3_url | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
}

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
FAMILY = re.compile(r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?")
PYTHON_VERSION = re.compile(r"3\.(1[0-9]|[89])")
REMOTES = ("local", "s3")


def problems(answers: dict) -> list[str]:
    """Every wrong answer, each as one line: which answer, what was given, what is allowed."""
    found = []
    if not SLUG.fullmatch(answers["project"]):
        found.append(
            f"project {answers['project']!r} is not a slug: use lowercase letters, digits "
            "and single hyphens, e.g. 'wine-classifier'"
        )
    package = answers["package"]
    if not package.isidentifier() or not package.isascii() or package != package.lower():
        found.append(
            f"package {package!r} is not a Python module name: use lowercase letters, "
            "digits and underscores, not starting with a digit, e.g. 'wine_classifier'"
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package {package!r} is a Python keyword: choose another name")
    elif package in sys.stdlib_module_names:
        found.append(
            f"package {package!r} would shadow the standard library module of that name: "
            "choose another name"
        )
    if not FAMILY.fullmatch(answers["model_family"]):
        found.append(
            f"model_family {answers['model_family']!r} is not a name GTO and DVC accept: "
            "use lowercase letters, digits, '-' and '_', starting and ending with a letter "
            "or digit (no '@ # ! : / .' or spaces)"
        )
    if answers["dvc_remote"] not in REMOTES:
        found.append(
            f"dvc_remote {answers['dvc_remote']!r} is not supported: choose one of "
            + ", ".join(REMOTES)
        )
    elif answers["dvc_remote"] == "s3" and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?", answers["s3_url"]):
        found.append(
            f"s3_url {answers['s3_url']!r} is not an S3 URL: use s3://<bucket>/<prefix>"
        )
    if not PYTHON_VERSION.fullmatch(answers["python_version"]):
        found.append(
            f"python_version {answers['python_version']!r} is not a Python version like "
            "'3.11' (3.8 to 3.19)"
        )
    return found


def main() -> int:
    found = problems(ANSWERS)
    if not found:
        return 0
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
