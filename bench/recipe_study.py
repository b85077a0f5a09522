"""Choose the default recipe by measurement on several real datasets, never on their test windows.

    python bench/recipe_study.py [--datasets NAME ...] [--recipes NAME ...] [--steps 3000] [--jobs 2]
                                 [--repeats 2] [--out bench/results/recipe_study.json] [--smoke]

For every (dataset, recipe): `rgan prepare` the dataset as a user would (bench/datasets.py, seq_len 24, random
split), train with params.yaml, the recipe shipped before issue 12 and the recipe's overrides (bench/configs/recipes.yaml) for --steps
steps on one torch thread, then score on the *validation* windows with rgan's own post-hoc discriminative score
(TimeGAN protocol, 2000 iterations) against its real-vs-real floor (training windows scored against the same
validation windows, `rgan.evaluation.floor`), and record the discriminator's health from the training log.
The table reports the ratio score / floor: 1 is as good as the data itself.

Validation windows, not test windows: the choice of recipe must not see the windows the final table is
scored on (bench/fidelity_table.py scores test windows with `rgan evaluate`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
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
BASELINE = "before-issue-12"  # the recipe every study recipe starts from (see recipes.yaml)
FLOOR_CACHE = Path(tempfile.gettempdir()) / "rgan-recipe-floor"


def merge(base: dict, over: dict) -> dict:
    return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in over.items()}}


def _floors(dataset: str, val, train_windows, iterations: int, repeats: int) -> list[float]:
    """The floor depends on the data only, not on the recipe: computed once per dataset and kept beside --out."""
    from filelock import FileLock

    from rgan.evaluation import floor

    cache = FLOOR_CACHE.with_suffix(f".{dataset}.{iterations}.{repeats}.json")
    with FileLock(str(cache) + ".lock"):
        if cache.is_file():
            return json.loads(cache.read_text())
        values = [floor.discriminative(val, floor.real_reference(train_windows, len(val), seed=r), iterations, seed=r)
                  for r in range(repeats)]
        cache.write_text(json.dumps(values))
        return values


def run_one(dataset: str, recipe: str, overrides: dict, steps: int, repeats: int, iterations: int) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from rgan.config import parse_params
    from rgan.data.prepare import load_prepared, prepare
    from rgan.evaluation import floor
    from rgan.sampling import load_generator
    from rgan.training.health import read_health
    from rgan.training.trainer import TrainPaths, train

    base = merge(yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(RECIPES.read_text())[BASELINE])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = datasets.write(dataset, tmp / "raw")
        # recipes compared on their last weights, as the committed results were measured; what validation
        # (train.keep: best) adds is measured on its own (bench/selection_study.py)
        raw = merge(base, {"data": data, "train": {"steps": steps, "threads": 1, "checkpoint_every": steps,
                                                   "health_steps": min(1000, steps), "keep": "last", "validate_every": None}})
        raw = merge(raw, overrides)
        params = parse_params(raw, f"{dataset}/{recipe}")
        prepare(params.data, tmp / "prepared")
        prepared = load_prepared(tmp / "prepared")
        params = params.with_overrides({"train": {"batch_size": min(params.train.batch_size, len(prepared.starts["train"]))}})
        paths = TrainPaths(generator=tmp / "g.pt", checkpoints=tmp / "ckpt", log=tmp / "log.tsv", metrics=tmp / "train.json")
        started = time.perf_counter()
        summary = train(params, tmp / "prepared", paths, progress=False)
        trained = time.perf_counter() - started
        generator = load_generator(paths.generator, torch.device("cpu"))
        val = prepared.windows("val", limit=2000, seed=0)
        train_windows = prepared.windows("train", limit=20000, seed=0)
        scores = []
        for r in range(repeats):
            synthetic = generator.sample_scaled(len(val), seed=1_000_003 + r)
            scores.append(floor.discriminative(val, synthetic, iterations, seed=r))
        floors = _floors(dataset, val, train_windows, iterations, repeats)
        health = read_health(paths.log)
    score, floor_value = float(np.mean(scores)), float(np.mean(floors))
    return {
        "dataset": dataset, "recipe": recipe, "steps": steps, "train_s": round(trained, 1),
        "steps_per_s": summary["steps_per_s"], "val_windows": int(len(val)), "train_windows": int(len(prepared.starts["train"])),
        "discriminative": round(score, 4), "discriminative_std": round(float(np.std(scores)), 4),
        "floor": round(floor_value, 4), "ratio": round(floor.ratio(score, floor_value, len(val)), 2),
        **{f"health_{k}": v for k, v in health.items()},
    }


def table(rows: list[dict]) -> str:
    """Datasets x recipes: validation discriminative score (ratio to the floor) and the discriminator's mean
    balanced accuracy / share of logged steps at chance."""
    recipes = list(dict.fromkeys(r["recipe"] for r in rows))
    names = [d for d in datasets.DATASETS if any(r["dataset"] == d for r in rows)]
    by = {(r["dataset"], r["recipe"]): r for r in rows}
    lines = ["| dataset | floor | " + " | ".join(recipes) + " |", "|---|---|" + "---|" * len(recipes)]
    for d in names:
        floor_value = next(r["floor"] for r in rows if r["dataset"] == d)
        cells = []
        for recipe in recipes:
            r = by.get((d, recipe))
            cells.append("" if r is None else f"{r['discriminative']:.3f} ({r['ratio']:.1f}x); D {r['health_mean_accuracy']:.2f}, "
                                              f"chance {r['health_chance_share']:.0%}")
        lines.append(f"| {d} | {floor_value:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    recipes = {k: v for k, v in yaml.safe_load(RECIPES.read_text()).items() if k != BASELINE}
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(datasets.DATASETS))
    ap.add_argument("--recipes", nargs="+", default=list(recipes))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recipe_study.json")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.steps, args.iterations, args.repeats = 20, 5, 1
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    todo = [(d, r) for r in args.recipes for d in args.datasets]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_one, d, r, recipes[r] or {}, args.steps, args.repeats, args.iterations): (d, r)
                   for d, r in todo}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # one failed (dataset, recipe) must not lose the others
                d, r = futures[future]
                print(f"FAILED {d} {r}: {type(exc).__name__}: {exc}", flush=True)
                continue
            rows = [x for x in rows if (x["dataset"], x["recipe"], x["steps"]) != (row["dataset"], row["recipe"], row["steps"])] + [row]
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(rows, indent=1) + "\n")
            args.out.with_suffix(".md").write_text(table(rows))
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
