"""Fidelity on real data: the recipe before and after issue 12, and after `rgan tune`, as multiples of the real-data floor.

    python bench/fidelity_table.py [--datasets NAME ...] [--steps 10000] [--tune-trials 4] [--tune-steps 1000]
                                   [--jobs 2] [--out bench/results/fidelity_table.md] [--smoke]

For every dataset of bench/datasets.py (five real ones that ship inside packages on the package index, plus Sines
and Stocks): `rgan prepare` it as a user would (seq_len 24, random split), then
- before: train with the recipe shipped before issue 12 (bench/configs/recipes.yaml `before-issue-12`),
- after: train with today's params.yaml,
- tuned: `rgan tune` (tune.trials x tune.steps on one thread, scored on validation windows), then train its best
  settings for the same number of steps,
each for --steps steps on one torch thread, and score each generator on the *test* windows with the evaluate stage's
discriminative score (post-hoc GRU, 2000 iterations, 3 repeats) and its real-vs-real floor (rgan.evaluation.floor).
The table gives score / floor (1 = as good as real data; the floor is raised to the classifier's noise on small
test sets). Results go to --out and its .json beside it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402  (bench/datasets.py)

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "bench" / "configs" / "recipes.yaml"
VARIANTS = ("before", "after", "tuned")


def merge(base: dict, over: dict) -> dict:
    return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in over.items()}}


def _windows(params, prepared):
    from rgan.evaluation import MAX_TRAIN_WINDOWS

    return (prepared.windows("test", limit=params.evaluate.max_windows, seed=0),
            prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=0))


def _floors(params, prepared, repeats: int, iterations: int) -> list[float]:
    """The real-vs-real floor on the test windows: the evaluate stage's, depending on the data only."""
    from rgan.evaluation import floor

    test, train = _windows(params, prepared)
    return [floor.discriminative(test, floor.real_reference(train, len(test), seed=r), iterations, seed=r) for r in range(repeats)]


def _score(params, prepared, generator_path, floors: list[float], iterations: int) -> dict:
    import numpy as np
    import torch

    from rgan.evaluation import floor
    from rgan.sampling import load_generator

    test, train = _windows(params, prepared)
    generator = load_generator(generator_path, torch.device("cpu"))
    scores = []
    for r in range(len(floors)):
        synthetic = generator.sample_scaled(len(test), seed=r + 1_000_003)
        scores.append(floor.discriminative(test, synthetic, iterations, seed=r))
    score, floor_value = float(np.mean(scores)), float(np.mean(floors))
    return {"discriminative": round(score, 4), "std": round(float(np.std(scores)), 4), "floor": round(floor_value, 4),
            "ratio": round(floor.ratio(score, floor_value, len(test), min(len(test), len(train))), 2), "test_windows": int(len(test))}


def run_dataset(dataset: str, steps: int, tune_trials: int, tune_steps: int, repeats: int, iterations: int,
                variants_wanted: tuple[str, ...] = VARIANTS) -> dict:
    import torch

    torch.set_num_threads(1)
    from rgan.config import parse_params
    from rgan.data.prepare import load_prepared, prepare
    from rgan.training.trainer import TrainPaths, train
    from rgan.tuning.tune import tune

    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    before = yaml.safe_load(RECIPES.read_text())["before-issue-12"]
    row: dict = {"dataset": dataset, "steps": steps}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = datasets.write(dataset, tmp / "raw")
        # recipes compared on their last weights, as the committed results were measured; what validation
        # (train.keep: best) adds is measured on its own (bench/selection_study.py)
        common = {"data": data, "train": {"steps": steps, "threads": 1, "checkpoint_every": steps, "keep": "last", "validate_every": None},
                  "evaluate": {"discriminative_iterations": iterations},
                  "tune": {"trials": tune_trials, "steps": tune_steps}}
        base = parse_params(merge(shipped, common), dataset)
        prepare(base.data, tmp / "prepared")
        prepared = load_prepared(tmp / "prepared")
        batch = {"train": {"batch_size": min(base.train.batch_size, len(prepared.starts["train"]))}}
        variants = {"before": parse_params(merge(merge(merge(shipped, before), common), batch), f"{dataset}/before"),
                    "after": base.with_overrides(batch)}
        if "tuned" in variants_wanted:
            started = time.perf_counter()
            params_file = tmp / "params.yaml"
            params_file.write_text(yaml.safe_dump(merge(merge(shipped, common), batch), sort_keys=False))
            result = tune(variants["after"], params_file, tmp / "prepared", tmp / "tuned.yaml", track=False)
            row["tune_s"] = round(time.perf_counter() - started, 1)
            row["tuned_settings"] = result["best"]["overrides"]
            variants["tuned"] = variants["after"].with_overrides(result["best"]["overrides"])
        floors = _floors(base, prepared, repeats, iterations)
        for name, params in variants.items():
            if name not in variants_wanted:
                continue
            d = tmp / name
            paths = TrainPaths(d / "g.pt", d / "ckpt", d / "log.tsv", d / "train.json")
            t0 = time.perf_counter()
            summary = train(params, tmp / "prepared", paths, progress=False)
            row[name] = {**_score(params, prepared, paths.generator, floors, iterations), "train_s": round(time.perf_counter() - t0, 1),
                         "d_accuracy": summary["d_accuracy"], "d_state": summary["d_state"], "warnings": len(summary["health_warnings"])}
        row["shape"] = f"{len(prepared.starts['train'])}/{len(prepared.starts['val'])}/{len(prepared.starts['test'])} windows x 24 x {prepared.dim}"
    return row


def table(rows: list[dict], args) -> str:
    lines = [
        "# Fidelity on real data: the recipe before and after issue 12, and after `rgan tune`",
        "",
        "Discriminative score (post-hoc GRU, TimeGAN protocol, 2000 iterations, mean of "
        f"{args.repeats} repeats) on the test windows, divided by its real-vs-real floor (training windows scored against",
        "the same test windows; raised to the classifier's noise 0.5/sqrt(held-out windows) where lower). 1.0 = as good as",
        "real data; the goal is 2.0 or less. `python bench/fidelity_table.py`; datasets in bench/datasets.py.",
        "",
        f"Training: {args.steps} steps, one torch thread, seed 0. Tuned: `rgan tune` with {args.tune_trials} trials x "
        f"{args.tune_steps} steps (the shipped tune.space, random sampler, seed 0), scored on validation windows only; then its",
        f"best settings trained for {args.steps} steps. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {__import__('torch').__version__}; measured {datetime.date.today()}.",
        "",
        "| dataset | windows (train/val/test) | floor | before: ratio (score) | after: ratio (score) | tuned: ratio (score) | tune time | tuned settings | discriminator after training (before / after / tuned) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: list(datasets.DATASETS).index(r["dataset"])):
        measured = [v for v in VARIANTS if v in r]
        if not measured:
            continue
        cells = [f"{r[v]['ratio']:.2f}x ({r[v]['discriminative']:.3f} ± {r[v]['std']:.3f})" if v in r else "not measured" for v in VARIANTS]
        health = " / ".join(f"{r[v]['d_state']} {r[v]['d_accuracy']}" if v in r else "-" for v in VARIANTS)
        tune = f"{r['tune_s'] / 60:.1f} min" if "tune_s" in r else "-"
        lines.append(f"| {r['dataset']} | {r['shape']} | {r[measured[0]]['floor']:.3f} | {' | '.join(cells)} | {tune} "
                     f"| `{json.dumps(r.get('tuned_settings', {}))}` | {health} |")
    sources = [f"- {r['dataset']}, {v}: {r[v]['source']}." for r in rows for v in VARIANTS if v in r and r[v].get("source")]
    if sources:
        lines += ["", "Measured otherwise than above:", *sources]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(datasets.DATASETS))
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--tune-trials", type=int, default=4)
    ap.add_argument("--tune-steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "fidelity_table.md")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, help="measure these columns; keep the others' rows")
    ap.add_argument("--smoke", action="store_true", help="tiny steps and iterations: checks the script end to end")
    args = ap.parse_args(argv)
    if args.smoke:
        args.steps, args.tune_trials, args.tune_steps, args.repeats, args.iterations = 20, 2, 10, 1, 5
    rows_path = args.out.with_suffix(".json")
    rows = json.loads(rows_path.read_text()) if rows_path.is_file() else []
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_dataset, d, args.steps, args.tune_trials, args.tune_steps, args.repeats, args.iterations,
                               tuple(args.variants)): d
                   for d in args.datasets}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # one failed dataset must not lose the others
                print(f"FAILED {futures[future]}: {type(exc).__name__}: {exc}", flush=True)
                continue
            earlier = next((r for r in rows if r["dataset"] == row["dataset"]), {})
            rows = [r for r in rows if r["dataset"] != row["dataset"]] + [{**earlier, **row}]
            args.out.parent.mkdir(parents=True, exist_ok=True)
            rows_path.write_text(json.dumps(rows, indent=1) + "\n")
            args.out.write_text(table(rows, args))
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
