"""How this registry distribution was installed, so that an error can name the pip command that
adds an extra to this same registry (the folder, URL or version it came from), not whatever the
package index holds under its name."""

from __future__ import annotations

import json
import shlex
from importlib import metadata

DISTRIBUTION = "versioned-ml-registry"


def install_command(extra: str) -> str:
    """``pip install ...`` of this registry with ``extra``, from where it was installed: an
    editable folder, a direct URL (PEP 610 ``direct_url.json``), else its version."""
    wanted = f"{DISTRIBUTION}[{extra}]"
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return f"pip install {shlex.quote(wanted)}"
    try:
        origin = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        origin = None
    url = origin.get("url") if isinstance(origin, dict) else None
    if not isinstance(url, str):
        return f"pip install {shlex.quote(f'{wanted}=={dist.version}')}"
    if (origin.get("dir_info") or {}).get("editable") and url.startswith("file://"):
        return f"pip install -e {shlex.quote(url.removeprefix('file://') + f'[{extra}]')}"
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("commit_id"):
        url = f"{vcs.get('vcs', 'git')}+{url}@{vcs['commit_id']}"
    if origin.get("subdirectory"):
        url += f"#subdirectory={origin['subdirectory']}"
    return f"pip install {shlex.quote(f'{wanted} @ {url}')}"
