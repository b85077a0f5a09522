"""Score a peer's synthetic windows with rgan's evaluation, exactly as `rgan evaluate` scores a generator (same
test windows, repeats, seeds and post-hoc models), from a benchmark work folder (params.yaml, data/prepared):

    python bench/peers/score.py SYNTHETIC.npy      (in the work folder; writes metrics/eval.json)
"""

import sys
from pathlib import Path

import numpy as np

from rgan.config import load_params
from rgan.data.prepare import load_prepared
from rgan.evaluation.evaluate import MadeElsewhere, evaluate


def main() -> None:
    prepared = load_prepared("data/prepared")
    windows = np.load(sys.argv[1])
    if windows.shape[1:] != (prepared.seq_len, prepared.dim):
        raise SystemExit(f"{sys.argv[1]}: windows of shape {windows.shape[1:]}, the prepared data's are {(prepared.seq_len, prepared.dim)}")
    Path("metrics").mkdir(exist_ok=True)
    evaluate(load_params("params.yaml"), "data/prepared", MadeElsewhere(windows, prepared.columns, prepared.seq_len),
             "metrics/eval.json", plots_dir=None, progress=False)


if __name__ == "__main__":
    main()
