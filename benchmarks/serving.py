#!/usr/bin/env python
"""Serving: `model-registry serve` next to a bare baseline, and how fast it follows the tags.

One run builds a real registry (git + DVC, released bundles; the helpers of
vml_testkit.serving, the test toolkit) and prints one table:

* throughput, p50 and p99 latency at 1, 8 and 32 concurrent clients over 127.0.0.1, one
  record per request (every server up at once, measured in turns at each level), for
  `model-registry serve` (validation, routing, ledger, metrics, input flags) as it starts by
  default (one process, the fast ledger: rows committed within 50 ms) over `/v1` and over the
  Open Inference Protocol (`/v2/.../infer`); V2 with ``--workers 1`` deciding every body in a
  worker process (``worker_min_bytes: 0``, as MLServer's inference pool); both protocols with
  ``--durable-ledger`` (an answer waits for its row's commit); a baseline: the same bundle's
  pipeline (loaded once, through `load_model`) in a bare Starlette app on uvicorn that parses
  the JSON (both protocols) and predicts, with no validation and no ledger. All run the model
  call the same way (in Starlette's thread pool); each client is a thread with one keep-alive
  connection, in this process; and the peer: MLServer 1.7.1's scikit-learn runtime (its own
  venv, ``.cache/mlserver-venv``) serving the same fitted pipeline, over its V2 ``infer``.
  MLServer loads joblib files only, so the benchmark writes the pipeline it loaded through
  ``load_model`` as one, for MLServer alone; its request is one ``[N, 3]`` FP64 tensor (its
  numpy codec);
* Ray Serve (``--engine ray``) with 1 and 2 replicas per family, V2 ``infer`` at the same
  levels, one after the other (each on a local Ray instance of its own);
* the p99 of a small request alone, and while two other client processes send ~1 MB bodies
  without pause (measured once the server has answered 4 of them: the workers have loaded the
  version), with how many it answered meanwhile, for ``model-registry serve`` as one process (orjson; parsing, validation and
  the model in its thread pool), with ``--workers 1`` (bodies of 64 KiB or more decided in a
  worker process), and the bare app (the standard library's json on the event loop);
* the time from a `promote` or a `rollback` (the moment its tags are written) to the first
  answer from the new version, with the server polling the tags every 1 s, and with the
  deployer calling `POST /v1/reload` right after the command.

    python benchmarks/serving.py            # a few minutes (the first run builds MLServer's venv)
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

    async def infer(request: Request):
        inputs = json.loads(await request.body())["inputs"]
        records = [dict(zip([i["name"] for i in inputs], row)) for row in zip(*(i["data"] for i in inputs))]
        labels = await run_in_threadpool(model.predict, records)
        return JSONResponse({"model_name": FAMILY, "outputs": [{"name": "predict", "datatype": "BYTES",
                                                                "shape": [len(labels)], "data": labels}]})

    async def healthz(request: Request):
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route(f"/v1/models/{FAMILY}/predict", predict, methods=["POST"]),
                            Route(f"/v2/models/{FAMILY}/infer", infer, methods=["POST"]),
                            Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- clients -----------------------------------------------------------------------------

def start(command: list, log: Path, port: int, ready: str = "/healthz", timeout: float = 120):
    from vml_testkit.net import poll
    from vml_testkit.serving import Client

    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"{command[2:4]} exited: {log.read_text()[-2000:]}")
        try:
            return Client(port).request("GET", ready)[0] == 200
        except OSError:
            return False
    poll(up, timeout, f"the server to answer {ready}")
    return proc


def v1_call(records: list) -> tuple:
    return f"/v1/models/{FAMILY}/predict", {"records": records}


def v2_call(records: list) -> tuple:
    inputs = [{"name": name, "datatype": "FP64", "shape": [len(records)], "data": [r[name] for r in records]}
              for name in records[0]]
    return f"/v2/models/{FAMILY}/infer", {"inputs": inputs}


def load(port: int, clients: int, requests: int, call: tuple) -> dict:
    """``requests`` POSTs of ``call`` (path, body) spread over ``clients`` threads: req/s, p50
    and p99 in ms."""
    from vml_testkit.serving import Client

    latencies, failures = [], []
    per_client = requests // clients
    path, body = call

    def run():
        client, mine = Client(port), []
        for _ in range(per_client):
            started = time.perf_counter()
            status, _, _ = client.request("POST", path, body)
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


def ours(root: Path, port: int, interval: float, work: Path, *options: str) -> list:
    return [sys.executable, "-m", "versioned_ml_registry", "--repo", str(root), "serve", "--port", str(port),
            "--interval", str(interval), "--ledger", str(work / f"ledger-{port}.sqlite"), *options]


def mlserver_call(records: list) -> tuple:
    return f"/v2/models/{FAMILY}/infer", {"inputs": [{"name": "input-0", "datatype": "FP64",
                                                      "shape": [len(records), len(records[0])],
                                                      "data": [list(r.values()) for r in records]}]}


def mlserver(root: Path, port: int, work: Path) -> list:
    """MLServer's command, serving the production pipeline of ``root`` (written as joblib for it)."""
    import joblib

    from versioned_ml_registry import load_model
    from vml_testkit.net import free_port
    from vml_testkit.venvs import MLSERVER_REQUIREMENTS, ensure_venv, venv_bin

    folder = work / "mlserver"
    (folder / FAMILY).mkdir(parents=True)
    joblib.dump(load_model(FAMILY, stage="production", repo=str(root)).model, folder / FAMILY / "model.joblib")
    (folder / FAMILY / "model-settings.json").write_text(json.dumps(
        {"name": FAMILY, "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"}}))
    (folder / "settings.json").write_text(json.dumps(
        {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "debug": False}))
    return [str(venv_bin(ensure_venv("mlserver-venv", MLSERVER_REQUIREMENTS), "mlserver")), "start", str(folder)]


# (column, server, protocol): what each column of the table measures
COLUMNS = (("v1", "fast", v1_call), ("v2", "fast", v2_call), ("v2 workers", "workers-all", v2_call),
           ("v1 durable", "ours", v1_call), ("v2 durable", "ours", v2_call),
           ("bare v1", "baseline", v1_call), ("bare v2", "baseline", v2_call), ("mlserver v2", "mlserver", mlserver_call))
# (server, the options it runs with): `fast` is `model-registry serve` as it starts by default
SERVERS = {"ours": ["--durable-ledger"], "fast": [], "workers-all": ["--workers", "1"], "workers": ["--workers", "1"],
           "baseline": None, "mlserver": None}


def flood(port: int, path: str, data: bytes, stop, answered, failed) -> None:
    """POST ``data`` to ``path`` until ``stop`` is set (in a process of its own: the measuring
    client shares no GIL with it), counting the answers."""
    from vml_testkit.serving import Client

    client = Client(port)
    while not stop.is_set():
        status, _, _ = client.request("POST", path, raw=data)
        counter = answered if status == 200 else failed
        with counter.get_lock():
            counter.value += 1


def large_bodies(port: int, call, records: list, small: int) -> tuple[float, float, int]:
    """p99 ms of ``small`` one-record requests alone, then while two client processes send ~1 MB
    bodies without pause; and how many of those were answered while the small ones ran."""
    import multiprocessing

    big = [{name: value + 0.123456789012345 for name, value in records[0].items()}] * 9000
    alone = load(port, 1, small, call(records))["p99"]
    spawn = multiprocessing.get_context("spawn")
    stop, answered, failed = spawn.Event(), spawn.Value("i", 0), spawn.Value("i", 0)
    path, body = call(big)
    floods = [spawn.Process(target=flood, args=(port, path, json.dumps(body).encode(), stop, answered, failed))
              for _ in range(2)]
    for process in floods:
        process.start()
    try:
        from vml_testkit.net import poll

        poll(lambda: answered.value >= 4 or failed.value, 300, "the floods to be answered")  # steady state
        before = answered.value
        busy = load(port, 1, small, call(records))["p99"]
        large = answered.value - before
    finally:
        stop.set()
        for process in floods:
            process.join()
    if failed.value:
        raise RuntimeError(f"{failed.value} large requests failed")
    return alone, busy, large


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
        rows, procs, ports = {column: {} for column, _, _ in COLUMNS}, [], {}
        try:
            for name, options in SERVERS.items():  # all up at once, measured in turns
                root = copy_registry(base, work / f"{name}-copy")
                if name == "workers-all":  # every body to the worker process, as MLServer's inference pool
                    (root / "params.yaml").write_text((root / "params.yaml").read_text() + "serving:\n  worker_min_bytes: 0\n")
                ports[name] = free_port()
                command = ([sys.executable, __file__, "--baseline", str(root), str(ports[name])]
                           if name == "baseline" else mlserver(root, ports[name], work) if name == "mlserver" else
                           ours(root, ports[name], 1.0, work, *options))
                procs.append(start(command, work / f"{name}.log", ports[name],
                                   f"/v2/models/{FAMILY}/ready" if name == "mlserver" else "/healthz"))
                warm = mlserver_call if name == "mlserver" else v1_call
                load(ports[name], 4, 200, warm(records))
            for clients in LEVELS:
                for column, server, call in COLUMNS:
                    rows[column][clients] = load(ports[server], clients, counts[clients], call(records))
            small = int(400 * scale)
            flooded = {"v1 (one process)": large_bodies(ports["fast"], v1_call, records, small),
                       "v1 --workers 1": large_bodies(ports["workers"], v1_call, records, small),
                       "bare v1": large_bodies(ports["baseline"], v1_call, records, small)}
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(60)

        on_ray = {}
        for replicas in (1, 2):
            root = copy_registry(base, work / f"ray-{replicas}")
            port = free_port()
            proc = start(ours(root, port, 1.0, work, "--engine", "ray", "--replicas", str(replicas)),
                         work / f"ray-{replicas}.log", port, timeout=300)
            try:
                load(port, 4, 200, v2_call(records))
                on_ray[replicas] = {clients: load(port, clients, counts[clients], v2_call(records)) for clients in LEVELS}
            finally:
                proc.terminate()
                proc.wait(120)

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
    names = [column for column, _, _ in COLUMNS]
    print(f"{'measure':<40}" + "".join(f"{name:>12}" for name in names)
          + f"{'v2/bare':>9}{'v2/mlserver':>12}{'durable/v1':>11}")
    for clients in LEVELS:
        for key, label in (("rps", f"requests/s ({counts[clients]} requests)"), ("p50", "p50 ms"), ("p99", "p99 ms")):
            values = {name: rows[name][clients][key] for name in names}
            shown = "".join(f"{values[name]:>12.0f}" if key == "rps" else f"{values[name]:>12.2f}" for name in names)
            print(f"{f'{clients} client(s): {label}':<40}{shown}{values['v2'] / values['bare v2']:>9.2f}"
                  f"{values['v2'] / values['mlserver v2']:>12.2f}{values['v1 durable'] / values['v1']:>11.2f}")
    for replicas, levels in on_ray.items():
        for clients in LEVELS:
            o = levels[clients]
            print(f"{f'ray serve, {replicas} replica(s), v2, {clients} client(s): req/s, p50, p99 ms':<56} "
                  f"{o['rps']:>7.0f} {o['p50']:>7.2f} {o['p99']:>7.2f}")
    for name, (alone, busy, large) in flooded.items():
        print(f"{f'small request p99 ms, alone / with 1 MB bodies: {name}':<64} {alone:>7.2f} / {busy:.2f} "
              f"({busy / alone:.2f}x; {large} large bodies answered meanwhile)")
    for mode, times in switched.items():
        for event, values in times.items():
            shown = " / ".join(f"{t:.2f}" for t in values)
            print(f"{f'{event} -> first answer from it, {mode} (s)':<56} {shown:>15}")


if __name__ == "__main__":
    main()
