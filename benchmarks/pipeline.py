"""Time the template's main job: bake, cold `dvc repro`, no-op `dvc repro`, forced retrain.

Prints one table of medians over --runs fresh bakes. Usage: python benchmarks/pipeline.py [--runs N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(project: Path, *command: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(project / "src"), DVC_NO_ANALYTICS="1")
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)


def measure_once(workdir: Path) -> dict:
    project = None

    def bake():
        nonlocal project
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(workdir)))

    times = {"bake": timed(bake)}
    times["dvc repro (cold)"] = timed(lambda: run(project, "dvc", "repro"))
    times["dvc repro (no-op)"] = timed(lambda: run(project, "dvc", "repro"))
    lock = (project / "dvc.lock").read_bytes()
    family = next(iter(yaml.safe_load((project / "families.yaml").read_text())["family_list"]))
    times["dvc repro -f -s train@<family>"] = timed(
        lambda: run(project, "dvc", "repro", "--force", "--single-item", f"train@{family}"))
    assert (project / "dvc.lock").read_bytes() == lock, "a forced retrain changed the weights' md5"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TMPDIR"] = tmp  # cookiecutter leaves temp folders behind
        samples = [measure_once(Path(tempfile.mkdtemp(dir=tmp))) for _ in range(runs)]
    print(f"| step (median of {runs}) | seconds |")
    print("| --- | ---: |")
    for step in samples[0]:
        print(f"| {step} | {statistics.median(s[step] for s in samples):.2f} |")


if __name__ == "__main__":
    main()
