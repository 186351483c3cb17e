"""Time the template's pipeline as families are added: a no-op `dvc repro` against `dvc status`.

One fresh bake (the example family), then families added with the project's own `add-family`
command from generated CSVs until the project has each count of --families. At each count:
`dvc repro` of the new families, then a no-op `dvc repro` and `dvc status` on the same
repository. Also the bake and a forced retrain of one family (whose weights' md5 must not change).

Prints tables of medians over --runs fresh bakes.
Usage: python benchmarks/pipeline.py [--runs N] [--families 1,10,30]
"""

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
ROWS = 120


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(project: Path, *command: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(project / "src"), DVC_NO_ANALYTICS="1")
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def write_csv(path: Path, seed: int) -> Path:
    """A small classification table: three numeric features, one categorical, a yes/no target."""
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "x3", "colour", "label"])
        for _ in range(ROWS):
            x1, x2, x3 = (round(rng.gauss(0, 1), 3) for _ in range(3))
            colour = rng.choice(["red", "green", "blue"])
            writer.writerow([x1, x2, x3, colour, "yes" if x1 + 0.5 * x2 + rng.gauss(0, 0.5) > 0 else "no"])
    return path


def add_families(project: Path, workdir: Path, first: int, last: int) -> None:
    package = yaml.safe_load((project / ".cookiecutter.json").read_text())["package"]
    for index in range(first, last):
        name = f"family{index:02d}"
        data = write_csv(workdir / f"{name}.csv", seed=index)
        run(project, "python", "-m", package, "add-family", name, "--data", str(data), "--target", "label")


def measure_once(workdir: Path, counts: list[int]) -> tuple[dict, dict]:
    project = None

    def bake():
        nonlocal project
        project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(workdir)))

    once = {"bake": timed(bake)}
    per_count = {}
    families = 1
    for count in counts:
        add_families(project, workdir, families, count)
        families = count
        per_count[count] = {
            "dvc repro (new families)": timed(lambda: run(project, "dvc", "repro")),
            "no-op dvc repro": timed(lambda: run(project, "dvc", "repro")),
            "dvc status": timed(lambda: run(project, "dvc", "status")),
        }
    lock = (project / "dvc.lock").read_bytes()
    example = next(iter(yaml.safe_load((project / "families.yaml").read_text())["family_list"]))
    once["dvc repro -f -s train@<example>"] = timed(
        lambda: run(project, "dvc", "repro", "--force", "--single-item", f"train@{example}"))
    assert (project / "dvc.lock").read_bytes() == lock, "a forced retrain changed the weights' md5"
    return once, per_count


def family_counts(text: str) -> list[int]:
    counts = sorted({int(part) for part in text.split(",")})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("expected family counts >= 1, e.g. 1,10,30")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--families", type=family_counts, default=[1, 10, 30],
                        help="family counts to measure at, comma-separated (default 1,10,30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TMPDIR"] = tmp  # cookiecutter leaves temp folders behind
        samples = [measure_once(Path(tempfile.mkdtemp(dir=tmp)), args.families) for _ in range(args.runs)]

    def median(values) -> float:
        return statistics.median(values)

    print(f"| families (median of {args.runs}) | dvc repro (new families) | no-op dvc repro | dvc status "
          "| no-op repro / status |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for count in args.families:
        cells = {step: median(per_count[count][step] for _, per_count in samples)
                 for step in samples[0][1][count]}
        print(f"| {count} | {cells['dvc repro (new families)']:.2f} | {cells['no-op dvc repro']:.2f} "
              f"| {cells['dvc status']:.2f} | {cells['no-op dvc repro'] / cells['dvc status']:.2f}x |")
    print()
    print("| step | seconds |")
    print("| --- | ---: |")
    for step in samples[0][0]:
        print(f"| {step} | {median(once[step] for once, _ in samples):.2f} |")


if __name__ == "__main__":
    main()
