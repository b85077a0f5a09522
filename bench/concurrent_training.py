"""Several default trainings at once on this machine: does each get its fair share of the CPU?

    python bench/concurrent_training.py [--steps 600] [--counts 1 2 3] [--threads N]

Makes the default sines data once, then for each count k starts k `rgan train --no-mlflow` processes together,
each with the shipped params.yaml (train.threads at its default unless --threads) and --steps steps. A process's
rate is taken from its training log between its first and last logged steps (start-up left out). Its fair share
is what one training alone achieved, scaled by the cores there are for k trainings of that many threads each:
alone x min(1, cores / (k x threads)). Prints each count's rates and their share of the fair share; fails when a
share is below --min-share (default 0.7).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _rate(log: Path) -> float:
    with log.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    first, last = rows[0], rows[-1]
    return (int(last["step"]) - int(first["step"])) / (float(last["elapsed_s"]) - float(first["elapsed_s"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threads", type=int, default=None, help="train.threads (default: the shipped default)")
    parser.add_argument("--min-share", type=float, default=0.7)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(steps=args.steps, checkpoint_every=args.steps)
    if args.threads is not None:
        params["train"]["threads"] = args.threads
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        for command in (["make-sines"], ["prepare"]):
            subprocess.run([sys.executable, "-m", "rgan", *command], cwd=work, env=env, check=True, capture_output=True)
        alone = threads = None
        for k in args.counts:
            procs, logs = [], []
            for i in range(k):
                out = work / f"run{k}-{i}"
                logs.append(out / "log.tsv")
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "rgan", "train", "--no-mlflow", "--no-progress", "--generator", str(out / "g.pt"),
                     "--checkpoints", str(out / "ckpt"), "--log", str(logs[-1]), "--metrics", str(out / "train.json"),
                     "--run-file", str(out / "run.json")], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            for proc in procs:
                _, err = proc.communicate()
                if proc.returncode != 0:
                    print(err[-2000:], file=sys.stderr)
                    return 1
            rates = [_rate(log) for log in logs]
            if alone is None:
                alone = rates[0]
                threads = int(yaml.safe_load((work / f"run{k}-0" / "train.json").read_text())["threads"])
            fair = alone * min(1.0, cores / (k * threads))
            shares = [r / fair for r in rates]
            print(f"{k} at once ({threads} thread{'s' if threads > 1 else ''} each, {cores} cores): "
                  f"{', '.join(f'{r:.1f}' for r in rates)} steps/s; fair share {fair:.1f}; "
                  f"{', '.join(f'{s:.0%}' for s in shares)} of it", flush=True)
            failed += [f"{k} at once: {s:.0%} of the fair share" for s in shares if s < args.min_share]
    for line in failed:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
