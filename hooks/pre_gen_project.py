"""Validate every answer before cookiecutter writes anything.

A bad answer prints one line saying which answer is wrong and what is allowed, and exits
non-zero; cookiecutter then removes the half-made project folder.

Answers are data, never code: free text (project_name, description, author_name,
author_email) is escaped wherever the project renders it (Python, TOML, YAML, hydra), so
what cannot be escaped is refused here: line breaks and control characters, and Jinja syntax,
which cookiecutter evaluates in answers given on its command line and cruft in every recorded
answer. Names (project, package, model_family) are refused unless they are plain slugs short
enough for the files and git tags named after them.
"""

import json
import keyword
import re
import sys
import unicodedata
from email.headerregistry import Address
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | jsonify | tojson }})
# The answers as given, before cookiecutter rendered them as templates (absent under cruft).
GIVEN = json.loads({% if _cookiecutter is defined %}{{ _cookiecutter | jsonify | tojson }}{% else %}"{}"{% endif %})

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
FAMILY = re.compile(r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?")
PYTHON_VERSION = re.compile(r"3\.(1[0-9]|[89])")
REMOTES = ("local", "s3")
S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._~/=+-]*)?")
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"{ATOM}(\.{ATOM})*@{LABEL}(\.{LABEL})+")
# DVC interpolates ${...} (unless escaped as \${) in every string of dvc.yaml, where the
# description is the artifact's desc.
# Family names that YAML 1.1 (PyYAML) or 1.2 (DVC's ruamel) reads as something else than a
# string when unquoted: dvc.yaml uses the family as the key of its artifact.
YAML_SCALAR = re.compile(r"[0-9][0-9_]*(e-?[0-9]+)?|0x[0-9a-f_]+|0o[0-7_]+|0b[01_]+"
                         r"|y|n|yes|no|on|off|true|false|null")
# Jinja's three openers, spelled so that this file (itself a Jinja template) keeps them.
JINJA = ("{" "{", "{" "%", "{" "#")
JINJA_SHOWN = f"'{JINJA[0]}', '{JINJA[1]}' or '{JINJA[2]}'"
# GitHub's cron (UTC): minute hour day-of-month month day-of-week, each field `*`, a number, a
# range or a list of them, with an optional /step; months and days may be named (JAN, MON).
CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
               ("month", 1, 12, "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()),
               ("day of week", 0, 6, "SUN MON TUE WED THU FRI SAT".split()))
CRON_ITEM = re.compile(r"(\*|([0-9A-Z]+)(-([0-9A-Z]+))?)(/([0-9]+))?")

# A project or package name is a folder, a distribution, a module: keep it well under the
# 255-byte file-name limit (the DVC remote folder adds "-dvc-storage", egg-info more).
NAME_LIMIT = 100
# git writes a tag as the file .git/refs/tags/<tag>, through <tag>.lock: 255 - 5 bytes. The
# longest tag of a family is its version tag with 10-digit components (34 characters after the
# family); its longest stage tag, <family>#deprecated#<10-digit counter>, adds 22.
TAG_LIMIT = 255 - len(".lock")
LONGEST_TAG_TAIL = "@v" + ".".join(["9" * 10] * 3)
FAMILY_LIMIT = TAG_LIMIT - len(LONGEST_TAG_TAIL)


def shown(value) -> str:
    """The answer as the error line shows it: quoted, long values cut short."""
    if isinstance(value, str) and len(value) > 120:
        return repr(value[:60] + "…")
    return repr(value)


def template_defaults() -> dict:
    """The template's own cookiecutter.json, whose defaults may be Jinja expressions."""
    folder = ANSWERS.get("_repo_dir")
    try:
        return json.loads(Path(folder, "cookiecutter.json").read_text(encoding="utf-8")) if folder else {}
    except (OSError, ValueError):
        return {}


def jinja_problem(key: str, defaults: dict) -> str | None:
    given = GIVEN.get(key)
    texts = [ANSWERS.get(key)]
    if isinstance(given, str) and given != defaults.get(key):
        texts.insert(0, given)  # cookiecutter already evaluated it: show what was given
    for text in texts:
        if isinstance(text, str) and any(opener in text for opener in JINJA):
            return (f"{key} {shown(text)} contains Jinja syntax ({JINJA_SHOWN}), which cookiecutter "
                    "and cruft evaluate in answers: leave it out")
    return None


def unprintable(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in "\ufffe\uffff":
            return f"U+{ord(char):04X}"
    return None


def too_long(key: str, value: str, limit: int, why: str) -> str | None:
    if len(value) <= limit:
        return None
    return f"{key} {shown(value)} is too long ({len(value)} characters): at most {limit} characters, {why}"


def text_problem(key: str) -> str | None:
    value = ANSWERS[key]
    if not isinstance(value, str):
        return f"{key} {shown(value)} is not text"
    char = unprintable(value)
    if char:
        return (f"{key} {shown(value)} contains {char}, a line break or control character: "
                "an answer is one line of printable text")
    if key == "author_email":
        return email_problem(value)
    return None


def email_problem(email: str) -> str | None:
    problem = (f"author_email {shown(email)} is not an e-mail address pyproject.toml accepts: "
               "use name@example.com (ASCII)")
    if len(email) > 254 or not EMAIL.fullmatch(email):
        return problem
    try:
        Address(display_name=ANSWERS["author_name"], addr_spec=email)
    except Exception:  # the parser setuptools uses for the authors of pyproject.toml
        return problem
    return None


def cron_problem(cron: str) -> str | None:
    problem = (f"release_train_cron {shown(cron)} is not a cron schedule GitHub runs: five fields, "
               "minute hour day-of-month month day-of-week (UTC), e.g. '0 6 * * 1-5' or '30 5 * * MON'")
    fields = cron.split(" ")
    if len(fields) != len(CRON_FIELDS):
        return problem
    for field, (_, low, high, names) in zip(fields, CRON_FIELDS):
        for item in field.split(","):
            found = CRON_ITEM.fullmatch(item)
            if not found or found.group(6) and int(found.group(6)) == 0:
                return problem
            for value in filter(None, found.group(2, 4)):
                number = names.index(value) + low if value in names else int(value) if value.isdigit() else -1
                if not low <= number <= high:
                    return problem
    return None


def project_problem(project: str) -> str | None:
    return too_long("project", project, NAME_LIMIT, "as it names the folder and the distribution") or (
        None if SLUG.fullmatch(project) else
        f"project {shown(project)} is not a slug: use lowercase letters, digits "
        "and single hyphens, e.g. 'wine-classifier'"
    )


def package_problem(package: str) -> str | None:
    long = too_long("package", package, NAME_LIMIT, "as it names the module's folder")
    if long:
        return long
    if not package.isidentifier() or not package.isascii() or package != package.lower():
        return (f"package {shown(package)} is not a Python module name: use lowercase letters, "
                "digits and underscores, not starting with a digit, e.g. 'wine_classifier'")
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        return f"package {shown(package)} is a Python keyword: choose another name"
    if package in sys.stdlib_module_names:
        return (f"package {shown(package)} would shadow the standard library module of that name: "
                "choose another name")
    return None


def family_problem(family: str) -> str | None:
    long = too_long(
        "model_family", family, FAMILY_LIMIT,
        f"so that its longest tag, <family>{LONGEST_TAG_TAIL} ({len(LONGEST_TAG_TAIL)} more), fits "
        f"the {TAG_LIMIT} bytes git allows a tag name (file names stop at 255 bytes; git writes "
        "<tag>.lock first)")
    if long:
        return long
    if not FAMILY.fullmatch(family):
        return (f"model_family {shown(family)} is not a name GTO and DVC accept: "
                "use lowercase letters, digits, '-' and '_', starting and ending with a letter "
                "or digit (no '@ # ! : / .' or spaces)")
    if YAML_SCALAR.fullmatch(family):
        return (f"model_family {shown(family)} reads as a number, boolean or null in YAML, where "
                "dvc.yaml names the artifact after it: use a word, e.g. 'model-2024'")
    return None


def folder_problem(folder, project: str) -> str | None:
    """`__project_folder` is derived from project; cookiecutter lets extra_context override even
    private answers, and would create the folder wherever it points (`../x`, `/abs`)."""
    if project_problem(project) is None and folder != project:
        return (f"__project_folder {shown(folder)} is not an answer: the project folder is named "
                f"after project ({project!r}); leave it out")
    return None


def problems(answers: dict) -> list[str]:
    """Every wrong answer, each as one line: which answer, what was given, what is allowed."""
    defaults = template_defaults()
    checks = {
        "project_name": lambda: text_problem("project_name"),
        "project": lambda: project_problem(answers["project"]),
        "package": lambda: package_problem(answers["package"]),
        "model_family": lambda: family_problem(answers["model_family"]),
        "description": lambda: text_problem("description"),
        "author_name": lambda: text_problem("author_name"),
        "author_email": lambda: text_problem("author_email"),
        "dvc_remote": lambda: None if answers["dvc_remote"] in REMOTES else (
            f"dvc_remote {shown(answers['dvc_remote'])} is not supported: choose one of " + ", ".join(REMOTES)),
        "s3_url": lambda: None if answers["dvc_remote"] != "s3" or S3_URL.fullmatch(answers["s3_url"]) else (
            f"s3_url {shown(answers['s3_url'])} is not an S3 URL: use s3://<bucket>/<prefix> "
            "(prefix: letters, digits and . _ ~ / = + -)"),
        "python_version": lambda: None if PYTHON_VERSION.fullmatch(answers["python_version"]) else (
            f"python_version {shown(answers['python_version'])} is not a Python version like "
            "'3.11' (3.8 to 3.19)"),
        "release_train_cron": lambda: cron_problem(answers["release_train_cron"]),
    }
    found = []
    for key, check in checks.items():
        value = answers.get(key)
        if not isinstance(value, str):
            found.append(f"{key} {shown(value)} is not text")
            continue
        problem = jinja_problem(key, defaults) or check()
        if problem:
            found.append(problem)
    if isinstance(answers.get("project"), str):
        problem = folder_problem(answers.get("__project_folder"), answers["project"])
        if problem:
            found.append(problem)
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
