"""Prepare throughput and peak memory on a large table (default 1,000,000 rows x 28 columns).

    python bench/prepare_throughput.py [--rows N] [--columns K] [--format csv|parquet]

Writes a random-walk table to a temporary directory, runs `rgan prepare` on it in a child process and
prints rows/s and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet
import yaml


def make_table(rows: int, columns: int, path: Path) -> None:
    rng = np.random.default_rng(0)
    data = {"timestamp": np.arange(rows, dtype=np.int64)}
    for c in range(columns):
        data[f"sensor_{c}"] = np.cumsum(rng.normal(size=rows)).astype(np.float64)
    table = pa.table(data)
    if path.suffix == ".csv":
        pa.csv.write_csv(table, path)
    else:
        pa.parquet.write_table(table, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=28)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / f"data.{args.format}"
        t = time.perf_counter()
        make_table(args.rows, args.columns, data)
        print(f"wrote {args.rows:,} x {args.columns} {args.format} ({data.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f}s")
        params = {"data": {"path": str(data), "time_column": "timestamp", "sequence_column": None, "seq_len": 24, "split": "time"}}
        (tmp / "params.yaml").write_text(yaml.safe_dump(params))

        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rgan", "prepare", "--out", str(tmp / "prepared")], cwd=tmp, check=True)
        seconds = time.perf_counter() - t
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB
        print(f"prepare: {seconds:.1f}s, {args.rows / seconds:,.0f} rows/s, peak memory {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
