#!/usr/bin/env python
"""Rollouts on evidence: the time from a canary going live to `model-registry rollout`'s
decision, under a steady synthetic load with true outcomes posted for every answer.

One run builds the served registry of vml_testkit.serving (the test toolkit) and, for each
scenario, serves a copy whose cultivar canary is a model trained on shuffled labels (truly
worse), an equal model, or an equal model whose outcomes never arrive; half the traffic goes
to the canary. A load thread sends one-record requests at ``--rate`` per second and posts each
true label to `POST /v1/feedback`. `rollout --watch --every 1` starts when the server first
answers from the canary; the table gives the decision, its time, and the sample sizes it
was made on. The peer row is a fixed-time rollout (the soak alone decides, as a plain canary
schedule does): it promotes the worse canary too.

    python benchmarks/rollout.py              # soak 20 s, 40 requests/s
    python benchmarks/rollout.py --quick      # soak 5 s
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vml_testkit.evidence import FEATURES, copy_registry, make_data
from vml_testkit.rollout import add_canary, set_policy
from vml_testkit.serving import FAMILY, Client, Server, build_registry

EVIDENCE = re.compile(r"^(canary|production): (\d+) requests.*\(n=(\d+)\)$")


def load(port: int, rate: float, feedback: bool, stop: threading.Event) -> None:
    X, y = make_data(n=3000, seed=11)
    client = Client(port)
    index = 0
    while not stop.is_set():
        began = time.monotonic()
        record = {name: round(float(value), 3) for name, value in zip(FEATURES, X[index % len(y)])}
        status, _, body = client.predict(FAMILY, [record], key=f"load-{index}")
        if status == 200 and feedback:
            client.request("POST", "/v1/feedback", {"request_id": body["request_id"], "outcome": str(y[index % len(y)])})
        index += 1
        stop.wait(max(0.0, 1 / rate - (time.monotonic() - began)))  # a steady rate, not a burst
    client.close()


def scenario(base: Path, scratch: Path, name: str, policy: dict, shuffle: bool, feedback: bool, rate: float,
             timeout: float) -> dict:
    root = copy_registry(base, scratch / name.replace(" ", "-").replace(",", "").replace("(", "").replace(")", ""))
    set_policy(root, policy)
    version = add_canary(root, shuffle=shuffle)
    with Server(root, "--family", FAMILY, "--canary-percent", "50", "--interval", "0.2") as server:
        server.wait_healthy()
        stop = threading.Event()
        worker = threading.Thread(target=load, args=(server.port, rate, feedback, stop), daemon=True)
        worker.start()
        server.wait_serving(FAMILY, version, route="canary")
        live = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "rollout", FAMILY, "--server",
                               f"http://127.0.0.1:{server.port}", "--watch", "--every", "1", "--timeout",
                               str(timeout), "--json"], cwd=root, capture_output=True, text=True)
        took = time.monotonic() - live
        stop.set()
        worker.join()
    if done.returncode not in (0, 3, 4):
        raise SystemExit(f"{name}: rollout failed: {done.stderr.strip()}")
    result = json.loads(done.stdout)
    sizes = {m.group(1): (int(m.group(2)), int(m.group(3))) for line in result["evidence"]
             if (m := EVIDENCE.match(line))}
    return {"scenario": name, "decision": result["decision"], "seconds": took,
            "canary": sizes.get("canary", (0, 0)), "production": sizes.get("production", (0, 0)),
            "why": result["why"][0] if result["why"] else ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second (default 40)")
    args = parser.parse_args(argv)
    soak = 5 if args.quick else 20
    policy = {"soak": f"{soak}s", "min_requests": 100, "min_outcomes": 50}
    fixed = {"soak": f"{soak}s", "min_requests": 0, "min_outcomes": 0, "max_accuracy_drop": 1.0,
             "max_error_rate_increase": 1.0, "max_p99_ratio": 1000.0, "max_psi": 1000.0}
    scratch = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    base = scratch / "base"
    base.mkdir()
    build_registry(base)
    rows = [scenario(base, scratch, "worse canary", policy, True, True, args.rate, 120),
            scenario(base, scratch, "equal canary", policy, False, True, args.rate, 120),
            scenario(base, scratch, "no outcomes", policy, False, False, args.rate, soak * 2),
            scenario(base, scratch, "fixed soak (peer), worse", fixed, True, True, args.rate, 120)]
    print(f"{'scenario':<28} {'decision':>9} {'s from live':>12} {'canary req/out':>15} {'prod req/out':>13}  why")
    for row in rows:
        print(f"{row['scenario']:<28} {row['decision']:>9} {row['seconds']:>12.1f} "
              f"{'%d/%d' % row['canary']:>15} {'%d/%d' % row['production']:>13}  {row['why'][:70]}")
    print(f"\npolicy: soak {soak} s, min_requests 100, min_outcomes 50, alpha 0.01; load {args.rate:g} requests/s, "
          "half on the canary; rollout --watch --every 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
