"""The evaluate stage: score a generator against held-out real windows and draw the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rgan.atomic import atomic_dir, write_json
from rgan.config import Params
from rgan.data.prepare import load_prepared
from rgan.device import resolve_device
from rgan.errors import RganError
from rgan.evaluation import distances, floor, parallel, plots, posthoc
from rgan.sampling import load_generator

# Windows of real training data the reference forecaster and the memorization index use at most.
MAX_TRAIN_WINDOWS = 20000


def _ratios(metrics: dict, n_test: int, n_train: int) -> dict:
    """Scores as multiples of their real-data floor (rgan.evaluation.floor): 1 = as good as real data."""
    denominator = max(metrics["discriminative_floor"]["mean"], floor.accuracy_noise(n_test, min(n_test, n_train)))
    out = {"discriminative_ratio": {"mean": metrics["discriminative"]["mean"] / denominator,
                                    "std": metrics["discriminative"]["std"] / denominator}}
    if metrics["predictive_real"]["mean"] > 0:
        out["predictive_ratio"] = {"mean": metrics["predictive"]["mean"] / metrics["predictive_real"]["mean"],
                                   "std": metrics["predictive"]["std"] / metrics["predictive_real"]["mean"]}
    return {name: {k: round(float(v), 4) for k, v in value.items()} for name, value in out.items()}


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
    generator = load_generator(generator_path, device)
    if generator.columns != prepared.columns or generator.seq_len != prepared.seq_len:
        raise RganError(
            f"{generator_path} was trained on columns {generator.columns} with seq_len {generator.seq_len}, "
            f"but the prepared data has {prepared.columns} with seq_len {prepared.seq_len}: retrain first"
        )
    test = prepared.windows("test", limit=cfg.max_windows, seed=cfg.seed)
    train = prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=cfg.seed)
    iters = dict(batch_size=cfg.batch_size, device=device)

    synthetic = [generator.sample_scaled(len(test), seed=cfg.seed + r + 1_000_003) for r in range(cfg.repeats)]
    posthoc_tasks = []
    for r, synth in enumerate(synthetic):
        seed = cfg.seed + r
        posthoc_tasks += [
            ("discriminative", posthoc.discriminative_score, (test, synth, cfg.discriminative_iterations), dict(seed=seed, **iters)),
            # the same classifier and seed with real training windows in place of synthetic ones
            ("discriminative_floor", posthoc.discriminative_score,
             (test, floor.real_reference(train, len(test), seed=seed), cfg.discriminative_iterations), dict(seed=seed, **iters)),
            ("predictive", posthoc.predictive_score, (synth, test, cfg.predictive_iterations), dict(seed=seed, **iters)),
            ("predictive_real", posthoc.predictive_score, (train, test, cfg.predictive_iterations), dict(seed=seed, **iters)),
        ]
    scores: dict[str, list[float]] = {}
    workers = parallel.worker_count(cfg.workers if device.type == "cpu" else 1, len(posthoc_tasks))
    for name, value in parallel.run_tasks(posthoc_tasks, workers=workers, progress=progress):
        scores.setdefault(name, []).append(value)
    for synth in synthetic:
        scores.setdefault("marginal_w1", []).append(distances.marginal_distance(test, synth))
        scores.setdefault("autocorr_diff", []).append(distances.autocorrelation_difference(test, synth, cfg.acf_lags))
        scores.setdefault("memorization_ratio", []).append(distances.memorization_ratio(train, test, synth))
    first_synthetic = synthetic[0]

    metrics: dict = {name: {"mean": round(float(np.mean(v)), 6), "std": round(float(np.std(v)), 6)} for name, v in scores.items()}
    metrics.update(_ratios(metrics, n_test=len(test), n_train=len(train)))
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
    # the processes used, for the caller to report: not in the file, whose bytes must not depend on the machine
    return {**metrics, "workers": workers}
