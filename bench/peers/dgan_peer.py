"""gretel-synthetics' DGAN (DoppelGANger, Lin et al., IMC 2020, in PyTorch) as a benchmark peer. Runs in its own
environment (bench/peers/.venvs/dgan, made by bench/peers/install.sh), never in rgan's.

    .venvs/dgan/bin/python dgan_peer.py --train train.npy --out synthetic.npy --n N --budget-s S [--seed 0] [--threads 1]

Trains on the given windows (n, steps, features; rgan's prepared training windows in its scaled units) with the
library's defaults (DGANConfig: batch 1024 or all windows if fewer, learning rates 0.001, its own feature and
per-example scaling), sample_len 2 (the generator's RNN emits 2 steps per cell, 12 cells for 24 steps), epochs
unbounded: training stops when the wall-time budget ends (checked after every batch, through the library's
progress callback). Then generates N windows. Prints a JSON line: steps (batches), epochs, training wall seconds.
"""

import argparse
import json
import time

import numpy as np
import torch
from gretel_synthetics.timeseries_dgan.config import DGANConfig, OutputType
from gretel_synthetics.timeseries_dgan.dgan import DGAN


class BudgetSpent(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--budget-s", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    windows = np.load(args.train).astype(np.float64)
    steps = windows.shape[1]
    config = DGANConfig(max_sequence_len=steps, sample_len=2 if steps % 2 == 0 else 1,
                        batch_size=min(1024, len(windows)), epochs=1_000_000, cuda=False)
    model = DGAN(config)
    progress = {"steps": 0, "epochs": 0}
    start = time.monotonic()

    def on_batch(info) -> None:
        progress["steps"] += 1
        progress["epochs"] = info.epoch + (info.batch + 1) / info.total_batches
        if time.monotonic() - start >= args.budget_s:
            raise BudgetSpent

    try:
        model.train_numpy(features=windows, feature_types=[OutputType.CONTINUOUS] * windows.shape[2], progress_callback=on_batch)
    except BudgetSpent:
        pass
    wall = time.monotonic() - start
    _, features = model.generate_numpy(args.n)
    np.save(args.out, np.stack(features).astype(np.float32))
    print(json.dumps({"steps": progress["steps"], "epochs": round(progress["epochs"], 2), "wall_s": wall}))


if __name__ == "__main__":
    main()
