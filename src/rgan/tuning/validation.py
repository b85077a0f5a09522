"""A trial's score on the validation windows, never the test windows: the post-hoc discriminative score (the
evaluate stage's classifier, iterations and batch size) over its real-data floor, averaged over repeats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgan.config import Params
from rgan.data.prepare import Prepared
from rgan.errors import RganError
from rgan.evaluation import floor, posthoc
from rgan.evaluation import MAX_TRAIN_WINDOWS
from rgan.evaluation.parallel import one_thread

SEED_OFFSET = 2_000_003  # validation samples use other noise than the evaluate stage's


def validation_windows(prepared: Prepared, params: Params) -> np.ndarray:
    n = len(prepared.starts["val"])
    if n < 10:
        raise RganError(f"tuning scores trials on the validation windows, and there are {n}: raise data.val_fraction "
                        "(at least 10 windows are needed)")
    return prepared.windows("val", limit=params.evaluate.max_windows, seed=params.evaluate.seed)


def floor_scores(params: Params, prepared: Prepared, repeats: int) -> list[float]:
    """The real-vs-real floor on the validation windows, one value per repeat: the same for every trial."""
    from rgan.device import resolve_device

    cfg = params.evaluate
    device = resolve_device(cfg.device)
    val = validation_windows(prepared, params)
    train = prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=cfg.seed)
    seeds = [cfg.seed + r for r in range(repeats)]
    with one_thread():  # the repeats as one grouped classifier (rgan.evaluation.posthoc)
        return posthoc.discriminative_scores(val, [floor.real_reference(train, len(val), seed) for seed in seeds],
                                             cfg.discriminative_iterations, cfg.batch_size, seeds, device, masked=prepared.sequences)


def score(params: Params, prepared: Prepared, generator_path: str | Path, floors: list[float]) -> dict:
    """{discriminative, floor, ratio, windows} of a trained generator; `floors` from floor_scores."""
    from rgan.device import resolve_device
    from rgan.sampling import load_generator

    cfg = params.evaluate
    device = resolve_device(cfg.device)
    val = validation_windows(prepared, params)
    generator = load_generator(generator_path, device)
    seeds = [cfg.seed + r for r in range(len(floors))]
    with one_thread():
        synthetic = [generator.sample_scaled(len(val), seed=SEED_OFFSET + seed) for seed in seeds]
        scores = posthoc.discriminative_scores(val, synthetic, cfg.discriminative_iterations, cfg.batch_size, seeds, device,
                                               masked=prepared.sequences)
    mean, floor_mean = float(np.mean(scores)), float(np.mean(floors))
    n_train = len(prepared.starts["train"])
    return {"discriminative": round(mean, 6), "floor": round(floor_mean, 6),
            "ratio": round(floor.ratio(mean, floor_mean, len(val), min(len(val), n_train)), 4), "windows": int(len(val))}
