"""Training speed at the settings in params.yaml (default: the shipped defaults) on the sines data.

    python bench/train_speed.py [--params params.yaml] [--steps 200]

Runs a short training in a temporary directory and prints steps/s and the projected time for train.steps.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rgan.config import load_params
from rgan.data.prepare import prepare
from rgan.data.sines import write_sines
from rgan.training.trainer import TrainPaths, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    params = load_params(args.params)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data_cfg = params.data.model_copy(update={"path": str(tmp / "sines.parquet")})
        write_sines(params.data.sines, data_cfg.path)
        prepare(data_cfg, tmp / "prepared")
        short = params.model_copy(update={"train": params.train.model_copy(update={"steps": args.steps})})
        summary = train(short, tmp / "prepared", TrainPaths(tmp / "g.pt", tmp / "ckpt", tmp / "log.tsv", tmp / "m.json"), progress=False)
    m, t = params.model, params.train
    print(
        f"{m.cell} hidden {m.hidden} x {m.layers} layers, batch {t.batch_size}, loss {t.loss}, d_steps {t.d_steps}, "
        f"device {summary['device']}: {summary['steps_per_s']:.1f} steps/s; "
        f"train.steps = {t.steps} would take {t.steps / summary['steps_per_s'] / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
