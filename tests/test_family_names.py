"""One family-name rule: the bake hook keeps a copy of the registry's (the registry is not
installed when the hook runs), and the two give the same verdict on every name."""

import json
import types
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment
from versioned_ml_registry.rules import names

TEMPLATE = Path(__file__).resolve().parents[1]


def rendered_hook() -> types.ModuleType:
    """hooks/pre_gen_project.py rendered as cookiecutter renders it (with the template's
    default answers) and imported without running its main()."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    answers = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    text = StrictEnvironment(keep_trailing_newline=True).from_string(source).render(cookiecutter=answers)
    module = types.ModuleType("pre_gen_project")
    exec(compile(text, "pre_gen_project.py", "exec"), module.__dict__)
    return module


HOOK = rendered_hook()
LIMIT = names.NAME_LIMIT

ACCEPTED = ["a", "a-b", "a_b", "a1", "1a", "model-2024", "cultivar", "y2", "nulls", "0x", "0xg",
            "1e", "1e5x", "e5", "x" * LIMIT]
REFUSED = ["yes", "no", "on", "off", "y", "n", "true", "false", "null", "123", "1_000", "1e5", "1e-5",
           "0x1f", "0o7", "0b1", "", "-a", "a-", "_a", "a_", "A", "Churn", "a.b", "a..b", "a b", "a@b",
           "a#b", "a!b", "a:b", "a/b", "é", "café", "a\tb", " a", "a ", "x" * (LIMIT + 1),
           "a\n"]  # a trailing newline passes a `$`-anchored re.match: both rules must refuse it


def test_the_hook_and_the_registry_allow_the_same_length():
    assert HOOK.FAMILY_LIMIT == names.NAME_LIMIT


@pytest.mark.parametrize("name", ACCEPTED, ids=[name[:12] for name in ACCEPTED])
def test_both_rules_accept(name):
    assert names.family_problem(name) is None
    assert HOOK.family_problem(name) is None


@pytest.mark.parametrize("name", REFUSED, ids=[repr(n[:12]) for n in REFUSED])
def test_both_rules_refuse_in_one_line(name):
    for problem in (names.family_problem(name), HOOK.family_problem(name)):
        assert problem and "\n" not in problem, problem
