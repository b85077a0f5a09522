"""Training speed inside the project image under a CPU limit: steps/s at `--cpus 1` and `--cpus 2`, with
train.threads at its default (the CPU quota) against torch's own default (every core of the machine).

Builds (or reuses) the image with `.ci/image`; needs podman (root). Prints one line per case.
    python bench/container_threads.py [--steps 500] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
UID = 10001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the four cases, interleaved (shared machines are noisy)")
    args = parser.parse_args()
    image = subprocess.run(["bash", str(ROOT / ".ci/image")], capture_output=True, text=True, check=True).stdout.split()[-1]
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.chown(work, UID, UID)

        def rgan(*command: str, cpus: int) -> str:
            proc = subprocess.run(["podman", "run", "--rm", "--user", str(UID), "--read-only", "--network", "none", "--cpus", str(cpus),
                                   "--volume", f"{work}:/work", "--workdir", "/work", image, *command], capture_output=True, text=True)
            if proc.returncode:
                sys.exit(proc.stderr[-2000:])
            return proc.stderr

        cases = [(threads, cpus) for _ in range(args.repeats) for threads in ("quota", "torch default") for cpus in (1, 2)]
        for threads, cpus in cases:
            params = yaml.safe_load((ROOT / "params.yaml").read_text())
            params["train"].update(steps=args.steps, log_every=50, checkpoint_every=args.steps,
                                   threads=None if threads == "quota" else cores)
            (work / "params.yaml").write_text(yaml.safe_dump(params))
            if not (work / "data/prepared").exists():
                rgan("make-sines", cpus=cpus)
                rgan("prepare", cpus=cpus)
            line = next(ln for ln in rgan("train", "--no-mlflow", cpus=cpus).splitlines() if ln.startswith("trained "))
            rate = float(re.search(r"at ([0-9.]+) steps/s", line)[1])
            used = re.search(r"\((\d+) CPU threads\)", line)[1]
            print(f"--cpus {cpus}, threads {threads:<13} ({used} used): {rate:6.1f} steps/s", flush=True)


if __name__ == "__main__":
    main()
