"""ydata-synthetic's TimeGAN (TensorFlow) as a benchmark peer. Runs in its own environment
(bench/peers/.venvs/ydata, made by bench/peers/install.sh), never in rgan's.

    .venvs/ydata/bin/python ydata_timegan_peer.py --train train.npy --out synthetic.npy --n N --budget-s S [--seed 0] [--threads 1]

The hyperparameters of the library's own TimeGAN example on Stocks (batch 128, learning rate 5e-4, noise 32,
hidden 24, gamma 1). Trained on the given windows (rgan's prepared training windows, scaled to [0, 1]) through the
model's `train` (its `fit` would window and min-max scale a raw table itself, reversed in time, as the TimeGAN
paper's loader does). The library runs its three phases (embedding, supervised, joint) for the same number of
iterations; here each phase runs until its share of the wall-time budget is spent (15%, 15%, 70%: a joint
iteration costs about three of the others), by replacing the progress bar the library loops through. Prints a
JSON line: iterations per phase, training wall seconds.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PHASES = {"Emddeding network training": ("embedding", 0.15), "Supervised network training": ("supervised", 0.30),
          "Joint networks training": ("joint", 1.0)}  # the library's progress-bar labels, its spelling


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--budget-s", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.keras.utils.set_random_seed(args.seed)
    from ydata_synthetic.synthesizers import ModelParameters
    from ydata_synthetic.synthesizers.timeseries.timegan import model as timegan

    windows = np.load(args.train).astype(np.float32)
    iterations: dict[str, int] = {}
    start = time.monotonic()

    def within_budget(iterable, desc: str):
        name, share = PHASES[desc]
        deadline = start + args.budget_s * share
        done = 0
        for item in iterable:
            if done and time.monotonic() >= deadline:
                break
            done += 1
            iterations[name] = done
            yield item

    timegan.tqdm = within_budget
    synth = timegan.TimeGAN(ModelParameters(batch_size=128, lr=5e-4, noise_dim=32, layers_dim=128, latent_dim=24, gamma=1))
    synth.seq_len, synth.n_seq = windows.shape[1], windows.shape[2]
    synth.num_cols = [f"feature_{i}" for i in range(windows.shape[2])]
    synth.train(data=list(windows), train_steps=10**9)
    wall = time.monotonic() - start
    chunks, made = [], 0
    while made < args.n:  # the generator's input has a fixed batch size: sample batch by batch
        chunks += [frame.to_numpy() for frame in synth.sample(synth.batch_size)]
        made = len(chunks)
    np.save(args.out, np.stack(chunks[:args.n]).astype(np.float32))
    print(json.dumps({"steps": iterations.get("joint", 0), "iterations": iterations, "wall_s": wall}))


if __name__ == "__main__":
    main()
