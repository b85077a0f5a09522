"""The evaluate stage: score a generator against held-out real windows and draw the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from rgan.atomic import atomic_dir, write_json
from rgan.config import Params
from rgan.data.prepare import load_prepared
from rgan.device import resolve_device, set_threads
from rgan.errors import RganError
from rgan.evaluation import distances, plots, posthoc
from rgan.sampling import load_generator

# Windows of real training data the reference forecaster and the memorization index use at most.
MAX_TRAIN_WINDOWS = 20000


def evaluate(
    params: Params,
    prepared_dir: str | Path,
    generator_path: str | Path,
    metrics_path: str | Path,
    plots_dir: str | Path,
    train_log: str | Path | None = None,
    progress: bool | None = None,
) -> dict:
    cfg = params.evaluate
    prepared = load_prepared(prepared_dir)
    device = resolve_device(cfg.device)
    set_threads(cfg.threads)
    generator = load_generator(generator_path, device)
    if generator.columns != prepared.columns or generator.seq_len != prepared.seq_len:
        raise RganError(
            f"{generator_path} was trained on columns {generator.columns} with seq_len {generator.seq_len}, "
            f"but the prepared data has {prepared.columns} with seq_len {prepared.seq_len}: retrain first"
        )
    test = prepared.windows("test", limit=cfg.max_windows, seed=cfg.seed)
    train = prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=cfg.seed)
    iters = dict(batch_size=cfg.batch_size, device=device)

    scores: dict[str, list[float]] = {}
    first_synthetic = None
    for r in tqdm(range(cfg.repeats), desc="evaluate", unit="repeat", disable=None if progress is None else not progress):
        seed = cfg.seed + r
        synthetic = generator.sample_scaled(len(test), seed=seed + 1_000_003)
        first_synthetic = synthetic if first_synthetic is None else first_synthetic
        run = {
            "discriminative": posthoc.discriminative_score(test, synthetic, cfg.discriminative_iterations, seed=seed, **iters),
            "predictive": posthoc.predictive_score(synthetic, test, cfg.predictive_iterations, seed=seed, **iters),
            "predictive_real": posthoc.predictive_score(train, test, cfg.predictive_iterations, seed=seed, **iters),
            "marginal_w1": distances.marginal_distance(test, synthetic),
            "autocorr_diff": distances.autocorrelation_difference(test, synthetic, cfg.acf_lags),
            "memorization_ratio": distances.memorization_ratio(train, test, synthetic),
        }
        for name, value in run.items():
            scores.setdefault(name, []).append(value)

    metrics: dict = {name: {"mean": round(float(np.mean(v)), 6), "std": round(float(np.std(v)), 6)} for name, v in scores.items()}
    metrics["memorization_pass"] = bool(metrics["memorization_ratio"]["mean"] >= cfg.memorization_threshold)
    metrics["windows"] = int(len(test))
    metrics["repeats"] = cfg.repeats

    shown = min(cfg.plot_samples, len(test))
    spread = np.linspace(0, len(test) - 1, 5).astype(int)  # neighbouring windows overlap; show distant ones
    with atomic_dir(plots_dir) as tmp:
        plots.embedding_plots(test[:shown], first_synthetic[:shown], tmp, seed=cfg.seed)
        plots.trace_plot(
            prepared.scaler.inverse_transform(test[spread].astype(np.float64)),
            prepared.scaler.inverse_transform(first_synthetic[:5].astype(np.float64)),
            prepared.columns,
            tmp / "traces.png",
        )
        if train_log is not None and Path(train_log).is_file():
            plots.loss_plot(Path(train_log), tmp / "losses.png")
    write_json(metrics_path, metrics)
    return metrics
