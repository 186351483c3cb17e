"""Text written into the YAML files the project's tools build line by line (a family's conf,
families.yaml, dvc.yaml's families block): one quoting rule, so every string reads back as
itself in YAML 1.1 (PyYAML, hydra) and 1.2 (DVC).

``scalar`` leaves a string bare when that is safe (``data/raw/churn.csv``) and quotes it
otherwise; ``quoted`` always quotes (prose). With ``hydra=True`` the value is also escaped for
OmegaConf, which resolves ``${...}`` in every string value of a conf: ``${`` becomes ``\\${``
and the backslashes right before it are doubled (its escape rules). Keys are never resolved:
quote them without ``hydra``.
"""

import re

# Plain scalars that are strings in both YAML versions: a letter or '_' first, then path characters.
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# ... except these words, which YAML 1.1 or 1.2 reads as booleans or null (in any case).
WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# Line breaks fold in a quoted scalar, and YAML refuses non-printable characters: both are
# written as escapes of a double-quoted scalar.
ESCAPED = re.compile("[^\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def hydra_escaped(text: str) -> str:
    """``text`` as a value OmegaConf reads literally: ``${`` escaped."""
    parts = text.split("${")
    out = []
    for part in parts[:-1]:
        kept = part.rstrip("\\")
        out.append(kept + part[len(kept):] * 2 + "\\${")
    out.append(parts[-1])
    return "".join(out)


def quoted(text: str, hydra: bool = False) -> str:
    """``text`` as a quoted YAML scalar: single-quoted (``'`` doubled), or double-quoted with
    escapes when it holds a line break or a non-printable character."""
    text = hydra_escaped(text) if hydra else text
    if not ESCAPED.search(text):
        return "'" + text.replace("'", "''") + "'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + ESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", escaped) + '"'


def scalar(text: str, hydra: bool = False) -> str:
    """``text`` as a YAML scalar: bare when YAML reads that back as the same string, else quoted."""
    if BARE.fullmatch(text) and text.lower() not in WORDS:
        return text
    return quoted(text, hydra)
