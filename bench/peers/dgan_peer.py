"""gretel-synthetics' DGAN (DoppelGANger, Lin et al., IMC 2020, in PyTorch) as a benchmark peer. Runs in its own
environment (bench/peers/.venvs/dgan, made by bench/peers/install.sh), never in rgan's.

    .venvs/dgan/bin/python dgan_peer.py --train train.npy --out synthetic.npy --n N --budget-s S [--seed 0] [--threads 1]
                                        [--settings defaults|example] [--snapshots-s S1 S2 ...]

Trains on the given windows (n, steps, features; rgan's prepared training windows in its scaled units) with
--settings: `defaults`, the library's (DGANConfig: batch 1024 or all windows if fewer, learning rates 1e-3, its own
feature and per-example scaling, an attribute discriminator), or `example`, those of the library's own example
(examples/timeseries_dgan.ipynb, which its README points to: batch 1000 or all windows if fewer, learning rates
1e-4, feature scaling without per-example scaling, no attribute discriminator); either way sample_len 2 (the
generator's RNN emits 2 steps per cell, 12 cells for 24 steps; the example's 12 cells for 144), epochs
unbounded: training stops when the wall-time budget ends (checked after every batch, through the library's
progress callback). Then generates N windows. Prints a JSON line: steps (batches), epochs, training wall seconds.

--snapshots-s: the generator's weights are also copied when the training passes each of these seconds (the copy's
time is not counted), and N windows generated from each after training, to <out>@<minutes>min.npy; the JSON line
lists them with the steps and wall seconds of each. Nothing in DGAN's training depends on its budget (epochs
unbounded, constant learning rates), so its state at minute m of a longer run is the one a run of budget m would end
with: one training gives the score-against-minutes curve.
"""

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from gretel_synthetics.timeseries_dgan.config import DGANConfig, OutputType
from gretel_synthetics.timeseries_dgan.dgan import DGAN


class BudgetSpent(Exception):
    pass


SETTINGS = {  # DGANConfig settings by name, given the number of training windows
    "defaults": lambda n: {"batch_size": min(1024, n)},
    "example": lambda n: {"batch_size": min(1000, n), "apply_feature_scaling": True, "apply_example_scaling": False,
                          "use_attribute_discriminator": False, "generator_learning_rate": 1e-4, "discriminator_learning_rate": 1e-4},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--budget-s", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="defaults")
    parser.add_argument("--snapshots-s", nargs="*", type=float, default=[])
    args = parser.parse_args()
    outside = [s for s in args.snapshots_s if not 0 < s < args.budget_s]
    if outside:  # a mark that would never be taken, or be the final generator under another name
        parser.error(f"--snapshots-s {' '.join(f'{s:g}' for s in outside)}: each mark must lie inside the budget (0, {args.budget_s:g})")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    windows = np.load(args.train).astype(np.float64)
    steps = windows.shape[1]
    config = DGANConfig(max_sequence_len=steps, sample_len=2 if steps % 2 == 0 else 1, epochs=1_000_000, cuda=False,
                        **SETTINGS[args.settings](len(windows)))
    model = DGAN(config)
    progress = {"steps": 0, "epochs": 0}
    marks = sorted(args.snapshots_s)
    snapshots: list[dict] = []
    start, paused = time.monotonic(), 0.0

    def on_batch(info) -> None:
        nonlocal paused
        progress["steps"] += 1
        progress["epochs"] = info.epoch + (info.batch + 1) / info.total_batches
        elapsed = time.monotonic() - start - paused
        copied = time.monotonic()
        while marks and elapsed >= marks[0]:  # every mark this batch passed (a slow batch may pass two)
            snapshots.append({"minutes": marks.pop(0) / 60, "wall_s": elapsed, **progress,
                              "weights": copy.deepcopy(model.generator.state_dict())})
        paused += time.monotonic() - copied
        if elapsed >= args.budget_s:
            raise BudgetSpent

    try:
        model.train_numpy(features=windows, feature_types=[OutputType.CONTINUOUS] * windows.shape[2], progress_callback=on_batch)
    except BudgetSpent:
        pass
    wall = time.monotonic() - start - paused
    generate(model, args.n, args.seed, args.out)
    out = Path(args.out)
    for snapshot in snapshots:
        model.generator.load_state_dict(snapshot.pop("weights"))
        snapshot["out"] = str(out.with_name(f"{out.stem}@{snapshot['minutes']:g}min{out.suffix}"))
        snapshot["epochs"] = round(snapshot["epochs"], 2)
        generate(model, args.n, args.seed, snapshot["out"])
    print(json.dumps({"steps": progress["steps"], "epochs": round(progress["epochs"], 2), "wall_s": wall, "snapshots": snapshots}))


def generate(model: DGAN, n: int, seed: int, out: str) -> None:
    torch.manual_seed(seed)  # the same noise for the final generator and every snapshot
    _, features = model.generate_numpy(n)
    np.save(out, np.stack(features).astype(np.float32))


if __name__ == "__main__":
    main()
