"""The one quoting rule of the YAML the project's tools write: every string reads back as itself,
in PyYAML (YAML 1.1, as hydra reads a conf), in ruamel (YAML 1.2, as DVC reads dvc.yaml) and,
with ``hydra=True``, through OmegaConf's interpolation."""

import pytest
import yaml
from omegaconf import OmegaConf
from ruamel.yaml import YAML

from {{ cookiecutter.package }}.yaml_scalars import quoted, scalar

TRICKY = ["plain", "data/raw/churn.csv", "yes", "No", "ON", "off", "y", "True", "null", "NULL", "~", "",
          "123", "1_000", "1.5", "1e5", "0x1f", "0o7", "0b1", "2024-01-01", "1:20", ".inf", ".nan",
          "a: b", "a:b", "#x", "a #x", "- a", "[a]", "{a: 1}", "&a", "*a", "!tag", "|", ">", "%x", "@x",
          "'quoted'", "it's", '"dq"', 'say "hi"', " leading", "trailing ", "  both  ", "\ttab",
          "back\\slash", "café", "日本語", "emoji 😀", "line\nbreak", "cr\rlf", "nul\x00", "del\x7f",
          "nel\x85", "sep\u2028", "bom\ufeff", "${x}", "a ${b.c} d", "\\${x}", "\\\\${x}", "$x", "${", "<<", "="]
IDS = [repr(text) for text in TRICKY]


def pyyaml(text: str):
    return yaml.safe_load(text)


def ruamel(text: str):
    return YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize("load", [pyyaml, ruamel])
@pytest.mark.parametrize("text", TRICKY, ids=IDS)
def test_a_string_reads_back_as_itself(load, text):
    for written in (scalar(text), quoted(text)):
        assert load(f"value: {written}\n") == {"value": text}, written
        assert load(f"{written}: 1\n") == {text: 1}, written
        assert load(f"list: [{written}, {written}]\n") == {"list": [text, text]}, written
        assert "\n" not in written


@pytest.mark.parametrize("text", TRICKY, ids=IDS)
def test_a_hydra_value_is_read_literally(text):
    for written in (scalar(text, hydra=True), quoted(text, hydra=True)):
        conf = OmegaConf.create(yaml.safe_load(f"value: {written}\nother: 1\n"))
        assert OmegaConf.to_container(conf, resolve=True)["value"] == text, written


def test_a_safe_string_stays_bare_and_prose_is_quoted():
    assert scalar("data/raw/churn.csv") == "data/raw/churn.csv"
    assert scalar("tenure_months") == "tenure_months"
    assert scalar("yes") == "'yes'"
    assert quoted("it's") == "'it''s'"
    assert quoted("${x}", hydra=True) == "'\\${x}'"
