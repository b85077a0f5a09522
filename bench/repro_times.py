"""Where `dvc repro` on the default data spends its time: each stage's wall and CPU seconds, run one after another
in a fresh clone of this repository (install aside: it uses this interpreter's environment).

    python bench/repro_times.py [--source DIR] [--keep DIR]

--source: the git repository to clone (default: this one, at its HEAD). For every stage of the stage contract,
`dvc repro --single-item STAGE` runs as a child; its wall time and the CPU time of its processes are printed, with
what the stage itself reported: the training loop's time (metrics/train.json) and the evaluation's scoring time (its
log line). The rest of a stage is start-up (imports) and MLflow (the run, the model, metrics and artifacts).
Tracking goes to the clone's own sqlite:///mlflow.db and the cache (real-data references, context-FID encoder) to an
empty folder, as a first `dvc repro` on a fresh machine does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from rgan.stages import STAGES

from measure import timed_run  # bench/ is on sys.path: the scripts run as `python bench/NAME.py`

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT, help="git repository to clone (default: this one)")
    parser.add_argument("--keep", type=Path, default=None, help="clone into DIR and keep it")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(args.source), str(work)], check=True)
        env["RGAN_CACHE_DIR"] = str(Path(scratch) / "cache")  # an empty cache, as on a fresh machine
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
        print(f"dvc repro of {args.source} at {commit}, stage by stage, in {work}", flush=True)
        print(f"{'stage':<10} {'wall s':>7} {'CPU s':>7}  reported by the stage", flush=True)
        total_wall = total_cpu = 0.0
        for name in STAGES:
            proc, wall, cpu = timed_run(["dvc", "repro", "--single-item", name], cwd=work, env=env)
            if proc.returncode != 0:
                print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
                return 1
            total_wall, total_cpu = total_wall + wall, total_cpu + cpu
            print(f"{name:<10} {wall:>7.1f} {cpu:>7.1f}  {_reported(name, work, proc.stderr)}", flush=True)
        print(f"{'total':<10} {total_wall:>7.1f} {total_cpu:>7.1f}", flush=True)
        scores = json.loads((work / "metrics/eval.json").read_text())
        print(f"scores: discriminative {scores['discriminative']['mean']:.4f} ± {scores['discriminative']['std']:.4f} "
              f"(floor {scores['discriminative_floor']['mean']:.4f}), predictive {scores['predictive']['mean']:.4f} "
              f"(real {scores['predictive_real']['mean']:.4f})", flush=True)
    return 0


def _reported(stage: str, work: Path, stderr: str) -> str:
    if stage == "train":
        summary = json.loads((work / "metrics/train.json").read_text())
        return (f"training loop {summary['wall_time_s']:.1f} s ({summary['steps']} steps at {summary['steps_per_s']} steps/s, "
                f"{summary['threads']} threads)")
    if stage == "evaluate":
        match = re.search(r"scored in ([0-9.]+) s[^;]*", stderr)
        processes = re.search(r"(\d+) processes of 1 thread", stderr)
        return (f"scoring {match[0].removeprefix('scored in ')}" if match else "") + (f", {processes[0]}" if processes else "")
    return ""


if __name__ == "__main__":
    sys.exit(main())
