#!/usr/bin/env python
"""Serving: `model-registry serve` next to a bare baseline, and how fast it follows the tags.

One run builds a real registry (git + DVC, released bundles; the helpers of
vml_testkit.serving, the test toolkit) and prints one table:

* throughput, p50 and p99 latency at 1, 8 and 32 concurrent clients over 127.0.0.1, one
  record per request (both servers up at once, measured in turns at each level), for `model-registry serve` (validation, routing, ledger, metrics) and a
  baseline: the same bundle's pipeline (loaded once, through `load_model`) in a bare Starlette
  app on uvicorn that parses the JSON and predicts, with no validation and no ledger. Both run
  the model call the same way (in Starlette's thread pool); each client is a thread with one
  keep-alive connection, in this process;
* the time from a `promote` or a `rollback` (the moment its tags are written) to the first
  answer from the new version, with the server polling the tags every 1 s, and with the
  deployer calling `POST /v1/reload` right after the command.

    python benchmarks/serving.py            # about a minute
    python benchmarks/serving.py --quick    # fewer requests: smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FAMILY = "cultivar"
LEVELS = (1, 8, 32)


# ---- the baseline server (run as a subprocess: `serving.py --baseline ROOT PORT`) ----------

def baseline(root: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from versioned_ml_registry import load_model

    model = load_model(FAMILY, stage="production", repo=root)

    async def predict(request: Request):
        records = json.loads(await request.body())["records"]
        return JSONResponse({"predictions": await run_in_threadpool(model.predict, records)})

    async def healthz(request: Request):
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route(f"/v1/models/{FAMILY}/predict", predict, methods=["POST"]),
                            Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- clients -----------------------------------------------------------------------------

def start(command: list, log: Path, port: int):
    from vml_testkit.net import poll
    from vml_testkit.serving import Client

    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"{command[2:4]} exited: {log.read_text()[-2000:]}")
        try:
            return Client(port).request("GET", "/healthz")[0] == 200
        except OSError:
            return False
    poll(up, 120, "the server to answer /healthz")
    return proc


def load(port: int, clients: int, requests: int, records: list) -> dict:
    """``requests`` spread over ``clients`` threads: req/s, p50 and p99 in ms."""
    from vml_testkit.serving import Client

    latencies, failures = [], []
    per_client = requests // clients

    def run():
        client, mine = Client(port), []
        for _ in range(per_client):
            started = time.perf_counter()
            status, _, _ = client.predict(FAMILY, records)
            mine.append(time.perf_counter() - started)
            if status != 200:
                failures.append(status)
        latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {failures[:3]}")
    cuts = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / took, "p50": cuts[49] * 1000, "p99": cuts[98] * 1000}


def switch_time(port: int, root: Path, change, expected: str, reload: bool, records: list) -> float:
    """Seconds from the tags being written by ``change()`` to the first answer from ``expected``."""
    from vml_testkit.serving import Client

    change()
    written = time.perf_counter()
    client = Client(port)
    if reload:
        client.request("POST", "/v1/reload")
    deadline = written + 30
    while time.perf_counter() < deadline:
        status, _, body = client.predict(FAMILY, records)
        if status == 200 and body["version"] == expected:
            return time.perf_counter() - written
    raise RuntimeError(f"{expected} never answered")


def switches(root: Path, port: int, reload: bool, records: list) -> dict:
    import versioned_ml_registry as reg

    repo = str(root)
    times = {"promote": [], "rollback": []}
    for version in ("v0.2.0", "v0.3.0"):
        times["promote"].append(switch_time(port, root, lambda: reg.promote(repo, FAMILY, version, "production"),
                                            version, reload, records))
        times["rollback"].append(switch_time(port, root, lambda: reg.rollback(repo, FAMILY, reason="bench"),
                                             "v0.1.0", reload, records))
    return times


def ours(root: Path, port: int, interval: float, work: Path) -> list:
    return [sys.executable, "-m", "versioned_ml_registry", "--repo", str(root), "serve", "--port", str(port),
            "--interval", str(interval), "--ledger", str(work / f"ledger-{port}.sqlite")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        return baseline(args.baseline[0], int(args.baseline[1]))
    scale = 0.2 if args.quick else 1.0
    counts = {1: int(1000 * scale), 8: int(4000 * scale), 32: int(6400 * scale)}

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        os.environ.update(HOME=str(work), GIT_CONFIG_NOSYSTEM="1", DVC_NO_ANALYTICS="1",
                          GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com",
                          GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com")
        from vml_testkit.evidence import copy_registry
        from vml_testkit.net import free_port
        from vml_testkit.serving import build_registry, probe

        base = work / "base"
        base.mkdir()
        build_registry(base)
        records = probe(base / "proj", FAMILY, 1)
        rows, procs, ports = {"baseline": {}, "ours": {}}, [], {}
        try:
            for name in rows:  # both up at once, measured in turns: drift in the machine's load hits both
                root = copy_registry(base, work / f"{name}-copy")
                ports[name] = free_port()
                command = ([sys.executable, __file__, "--baseline", str(root), str(ports[name])]
                           if name == "baseline" else ours(root, ports[name], 1.0, work))
                procs.append(start(command, work / f"{name}.log", ports[name]))
                load(ports[name], 4, 200, records)  # warm up
            for clients in LEVELS:
                for name in rows:
                    rows[name][clients] = load(ports[name], clients, counts[clients], records)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(60)

        switched = {}
        for mode, interval, reload in (("polling every 1 s", 1.0, False), ("POST /v1/reload", 3600.0, True)):
            root = copy_registry(base, work / f"switch-{interval}")
            port = free_port()
            proc = start(ours(root, port, interval, work), work / f"switch-{interval}.log", port)
            try:
                switched[mode] = switches(root, port, reload, records)
            finally:
                proc.terminate()
                proc.wait(60)

    print(f"serving {FAMILY} over 127.0.0.1, 1 record per request ({os.cpu_count()} CPUs, clients in one process)")
    print(f"{'measure':<56} {'model-registry':>15} {'baseline':>10} {'ratio':>7}")
    for clients in LEVELS:
        o, b = rows["ours"][clients], rows["baseline"][clients]
        print(f"{f'{clients} client(s): requests/s ({counts[clients]} requests)':<56} {o['rps']:>15.0f} "
              f"{b['rps']:>10.0f} {o['rps'] / b['rps']:>7.2f}")
        for key in ("p50", "p99"):
            print(f"{f'{clients} client(s): {key} ms':<56} {o[key]:>15.2f} {b[key]:>10.2f} {o[key] / b[key]:>7.2f}")
    for mode, times in switched.items():
        for event, values in times.items():
            shown = " / ".join(f"{t:.2f}" for t in values)
            print(f"{f'{event} -> first answer from it, {mode} (s)':<56} {shown:>15} {'-':>10} {'':>7}")


if __name__ == "__main__":
    main()
