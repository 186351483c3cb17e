"""The release train: ship what is ready, on a schedule (docs/RELEASE_TRAIN.md).

.github/workflows/release-train.yml runs it on its cron; by hand, from the repository root:
`python scripts/release_train.py`. After `dvc repro`, for every family in families.yaml:

1. `model-registry release FAMILY --if-changed`: a new version if the family's bundle changed;
2. a new candidate (newer than staging and production) is promoted to staging;
3. the staging version becomes the canary once it has soaked `release_train.staging_soak`
   (conf/config.yaml) in staging, if production holds an older version and no canary is live.

Then `model-registry push` publishes the new tags (the DVC artifacts first). With ROLLOUT_SERVER
set to the serving URL, `model-registry rollout FAMILY --server URL` decides each live canary
(exit 0 promoted, 3 aborted, 4 waiting: all normal), and what it wrote is pushed too.
A family whose step fails does not stop the others; the train then exits 1.
"""

import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import time

import yaml

ROLLOUT = {0: "promoted", 3: "aborted", 4: "waiting"}
DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")  # 2d, 20h, 1h30m, 0s


class TrainError(Exception):
    pass


def run(*command: str, allowed=(0,)) -> int:
    print("$", shlex.join(command), flush=True)
    code = subprocess.run(command).returncode
    if code not in allowed:
        raise TrainError(f"{shlex.join(command)} exited {code}")
    return code


def read(*command: str):
    done = subprocess.run(["model-registry", *command, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise TrainError(done.stderr.strip() or f"model-registry {command[0]} exited {done.returncode}")
    return json.loads(done.stdout)


def staging_soak() -> int:
    """release_train.staging_soak of params.yaml (composed from conf/config.yaml), in seconds."""
    with open("params.yaml") as params:
        text = str((yaml.safe_load(params).get("release_train") or {}).get("staging_soak"))
    found = DURATION.fullmatch(text)
    if not text or not found:
        raise TrainError(f"release_train.staging_soak in conf/config.yaml is {text!r}: use a duration like 30m, 20h, 2d or 0s")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def newer(state: dict, version: str, *others) -> bool:
    """Whether ``version`` is above every other version given (None: no version)."""
    order = state["versions"].index
    return all(other is None or order(version) > order(other) for other in others)


def stage_candidate(family: str, reason: str) -> None:
    state = read("show", family)["families"][family]
    holders = state["holders"]
    candidate = holders["candidate"]
    if candidate and state["status"][candidate] == "candidate" and newer(state, candidate, holders["staging"], holders["production"]):
        run("model-registry", "promote", family, candidate, "staging", "--reason", reason)


def start_canary(family: str, soak: int, reason: str) -> None:
    state = read("show", family)["families"][family]
    holders = state["holders"]
    staging, production = holders["staging"], holders["production"]
    if not staging or state["status"][staging] != "staging" or not newer(state, staging, production):
        return  # nothing new in staging
    if production is None:
        print(f"{family}: {staging} stays in staging: a canary needs a production version to compare "
              f"with; promote the first one by hand")
        return
    if state["canary_live"]:
        print(f"{family}: {staging} waits: the canary {holders['canary']} is still live")
        return
    staged = max(event["time"] for event in read("history", family)
                 if event["stage"] == "staging" and event["version"] == staging)
    soaked = max(0.0, time.time() - staged)  # tagger times may run a second ahead
    if soaked < soak:
        print(f"{family}: {staging} soaks in staging: {soaked / 3600:.1f}h of {soak / 3600:g}h")
        return
    run("model-registry", "promote", family, staging, "canary", "--reason", reason)


def ship(family: str, soak: int, reason: str) -> None:
    run("model-registry", "release", family, "--if-changed")
    stage_candidate(family, reason)
    start_canary(family, soak, reason)


def rollout(family: str, server: str) -> None:
    code = run("model-registry", "rollout", family, "--server", server, allowed=ROLLOUT)
    print(f"{family}: rollout {ROLLOUT[code]}")


def each(families: list, step) -> list:
    """``step(family)`` for every family: one family's failure does not stop the others."""
    failures = []
    for family in families:
        try:
            step(family)
        except TrainError as error:
            failures.append(f"{family}: {error}")
    return failures


def main() -> int:
    reason = f"release train {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}"
    run("dvc", "repro")
    soak = staging_soak()
    with open("families.yaml") as listing:
        families = list(yaml.safe_load(listing)["family_list"])
    failures = each(families, lambda family: ship(family, soak, reason))
    run("model-registry", "push")
    server = os.environ.get("ROLLOUT_SERVER")
    if server:
        failures += each(families, lambda family: rollout(family, server))
        run("model-registry", "push")
    else:
        print("rollout: skipped (no ROLLOUT_SERVER: set it to the serving URL to let the train decide live canaries)")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TrainError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
