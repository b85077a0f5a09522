"""Peak memory and wall time of `rgan sample` as -n grows: streaming must keep memory flat.

    python bench/sample_memory.py [--n 1e5 1e6 1e7] [--format parquet|csv] [--quick] [--threads K] [--keep DIR]

Makes a generator file quickly in a temporary directory (sines data, the model section of the project's
params.yaml, 20 train steps, no MLflow), then runs `rgan sample` once per n as a child process and prints its
wall seconds and peak resident memory (that child's own ru_maxrss, from os.wait4). Exits 1 when a peak passes
--limit-mib (default 1024). --quick: n = 1e4 and 1e5, for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def make_generator(workdir: Path, steps: int) -> Path:
    """sines -> prepare -> a few train steps with the shipped model settings; returns the generator file."""
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text()) or {}
    params = {
        "data": {"path": "data/raw/sines.parquet", "time_column": "step", "sequence_column": "sequence_id", "split": "random",
                 "seq_len": 24, "sines": {"n_sequences": 500, "length": 24, "dim": 5, "seed": 0}},
        "model": shipped.get("model", {}),
        "train": {"steps": steps, "batch_size": 64, "log_every": steps, "checkpoint_every": steps, "device": "cpu", "threads": 1},
    }
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["make-sines"], ["prepare"], ["train", "--no-mlflow"]):
        subprocess.run([sys.executable, "-m", "rgan", *command], cwd=workdir, check=True, capture_output=True, text=True)
    return workdir / "models" / "generator.pt"


def run_sample(generator: Path, n: int, out: Path, env: dict) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stderr tail) of one `rgan sample` child."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "rgan", "sample", "--generator", str(generator), "-n", str(n), "--seed", "0",
                                 "--out", str(out)], cwd=out.parent, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not a max over all children
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
    return seconds, usage.ru_maxrss / 1024, proc.returncode, tail[0]  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", nargs="+", type=float, default=[1e5, 1e6, 1e7], help="sequence counts (default 1e5 1e6 1e7)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--quick", action="store_true", help="n = 1e4 1e5 (CI smoke run)")
    parser.add_argument("--steps", type=int, default=20, help="train steps of the throwaway generator (default 20)")
    parser.add_argument("--threads", type=int, default=None, help="OMP/MKL threads of the sample child (default: torch's default)")
    parser.add_argument("--limit-mib", type=float, default=1024.0, help="fail when a peak passes this (default 1024)")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it (default: a temporary directory)")
    args = parser.parse_args()
    counts = [10_000, 100_000] if args.quick else [int(n) for n in args.n]

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generator = make_generator(workdir, args.steps)
        print(f"generator: {generator} ({time.perf_counter() - started:.1f}s to make)", flush=True)
        print(f"{'n':>12} {'rows':>13} {'format':>8} {'wall s':>8} {'peak MiB':>9} {'out MiB':>9}", flush=True)
        failed = []
        for n in counts:
            out = workdir / f"sample-{n}.{args.format}"
            seconds, peak, code, tail = run_sample(generator, n, out, env)
            size = out.stat().st_size / 2**20 if out.exists() else float("nan")
            out.unlink(missing_ok=True)  # 1e7 sequences are gigabytes
            print(f"{n:>12,} {n * 24:>13,} {args.format:>8} {seconds:>8.1f} {peak:>9.0f} {size:>9.0f}", flush=True)
            if code != 0:
                failed.append(f"n={n:,}: rgan sample exited {code}: {tail}")
            elif peak > args.limit_mib:
                failed.append(f"n={n:,}: peak {peak:.0f} MiB > {args.limit_mib:.0f} MiB")
    for line in failed:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
