"""What `rgan evaluate` costs on the default data: wall and CPU seconds (its own and its worker processes'), with
the real-data references and the context-FID encoder computed (a first evaluation of these data and settings) and
then from the cache.

    python bench/evaluate_speed.py [--steps 200] [--keep DIR]

Makes the default sines data and a quickly trained generator (--steps; the evaluation's cost does not depend on
how good the generator is) in a temporary folder with the shipped params.yaml, then runs `rgan evaluate --no-mlflow`
as a child twice: with an empty cache, then with the one the first run left. Prints each run's wall and
CPU time and its scores; the scores must be equal (the cache changes the cost, never a number).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from measure import timed_run  # bench/ is on sys.path: the scripts run as `python bench/NAME.py`

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="training steps of the generator scored (default 200)")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["train"].update(steps=args.steps, checkpoint_every=args.steps)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        cache = work / "cache"
        env = {**os.environ, "RGAN_CACHE_DIR": str(cache)}
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        for command in (["make-sines"], ["prepare"], ["train", "--no-mlflow", "--no-progress"]):
            subprocess.run([sys.executable, "-m", "rgan", *command], cwd=work, env=env, check=True, capture_output=True)
        shutil.rmtree(cache, ignore_errors=True)  # what training's validation cached (its encoder): a cold first run
        print(f"{'run':<30} {'wall s':>7} {'CPU s':>7}  scores", flush=True)
        seen = []
        for label in ("nothing cached", "references and encoder cached"):
            proc, wall, cpu = timed_run([sys.executable, "-m", "rgan", "evaluate", "--no-mlflow", "--no-progress"], cwd=work, env=env)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            scores = json.loads((work / "metrics/eval.json").read_text())
            seen.append(scores)
            print(f"{label:<30} {wall:>7.1f} {cpu:>7.1f}  discriminative {scores['discriminative']['mean']:.4f} "
                  f"(floor {scores['discriminative_floor']['mean']:.4f}), predictive {scores['predictive']['mean']:.4f} "
                  f"(real {scores['predictive_real']['mean']:.4f})", flush=True)
        if seen[0] != seen[1]:
            changed = {k: (seen[0].get(k), seen[1].get(k)) for k in seen[0].keys() | seen[1].keys() if seen[0].get(k) != seen[1].get(k)}
            print(f"FAIL the cache changed the scores: {changed}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
