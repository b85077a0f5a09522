"""The evaluate stage: score a generator against held-out real windows and draw the figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rgan.atomic import atomic_dir, write_json
from rgan.config import Params
from rgan.data.prepare import ALL_WINDOWS, load_prepared
from rgan.device import resolve_device
from rgan.errors import RganError
from rgan.evaluation import MAX_TRAIN_WINDOWS, conditions, context_fid, distances, floor, parallel, plots, posthoc, reference
from rgan.data.sequences import LENGTH_COLUMN
from rgan.evaluation.parallel import one_thread
from rgan.sampling import load_generator


def _ratios(metrics: dict, n_test: int, n_train: int) -> dict:
    """Scores as multiples of their real-data floor (rgan.evaluation.floor): 1 = as good as real data."""
    denominator = max(metrics["discriminative_floor"]["mean"], floor.accuracy_noise(n_test, min(n_test, n_train)))
    out = {"discriminative_ratio": {"mean": metrics["discriminative"]["mean"] / denominator,
                                    "std": metrics["discriminative"]["std"] / denominator}}
    if metrics["predictive_real"]["mean"] > 0:
        out["predictive_ratio"] = {"mean": metrics["predictive"]["mean"] / metrics["predictive_real"]["mean"],
                                   "std": metrics["predictive"]["std"] / metrics["predictive_real"]["mean"]}
    return {name: {k: round(float(v), 4) for k, v in value.items()} for name, value in out.items()}


def _posthoc_specs(cfg, test: np.ndarray, train: np.ndarray, synthetic: list[np.ndarray], stand_ins: list[np.ndarray],
                   references: bool, target: int | None = None, masked: bool = False) -> dict[str, tuple]:
    """Score name -> spec (rgan.evaluation.posthoc.scores_together): the predictive and discriminative repeats on
    synthetic windows and, unless cached, the real-data references (the same models and seeds with real training
    windows in place of synthetic ones)."""
    seeds = [cfg.seed + r for r in range(cfg.repeats)]
    common = dict(batch_size=cfg.batch_size, seeds=seeds, masked=masked)
    specs = {"predictive": ("predictive", (synthetic, test, cfg.predictive_iterations), {**common, "target": target}),
             "discriminative": ("discriminative", (test, synthetic, cfg.discriminative_iterations), common)}
    if references:
        specs["predictive_real"] = ("predictive", ([train] * cfg.repeats, test, cfg.predictive_iterations), {**common, "target": target})
        specs["discriminative_floor"] = ("discriminative", (test, stand_ins, cfg.discriminative_iterations), common)
    return specs


MIN_CONDITION_WINDOWS = 20  # fewer test windows of a label: no per-condition score (its classifier would be noise)


def _per_condition_specs(cfg, test, conditioned, first: int, categorical_attributes, scaler, masked: bool) -> list:
    """((attribute, label), spec) per label of each categorical attribute with enough test windows: the
    discriminative score of the real test windows of that label against the windows generated with their attributes."""
    out = []
    for name, (a, b) in categorical_attributes:
        labels = test[:, 0, first + a:first + b].argmax(1)
        for code, label in enumerate(scaler.categories[name]):
            rows = np.flatnonzero(labels == code)
            if len(rows) >= MIN_CONDITION_WINDOWS:
                spec = ("discriminative", (test[rows], [conditioned[rows]], cfg.discriminative_iterations),
                        dict(batch_size=cfg.batch_size, seeds=[cfg.seed], masked=masked))
                out.append(((name, str(label)), spec))
    return out


class MadeElsewhere:
    """Synthetic windows made by other software (a peer library in the benchmark), in the prepared data's scaled
    units, scored in place of a generator: each draw takes n of them without replacement, seeded."""

    def __init__(self, windows: np.ndarray, columns: list[str], seq_len: int):
        self.windows, self.columns, self.seq_len = windows.astype(np.float32), columns, seq_len

    def __str__(self) -> str:  # how the evaluation's messages name it
        return f"{len(self.windows)} windows made elsewhere"

    def sample_scaled(self, n: int, seed: int, vectors: np.ndarray | None = None) -> np.ndarray:
        if vectors is not None:
            raise RganError("windows made elsewhere cannot be drawn for given attributes")
        if n > len(self.windows):
            raise RganError(f"{n} synthetic windows are needed per repeat, {len(self.windows)} were given")
        return self.windows[np.sort(np.random.default_rng(seed).choice(len(self.windows), n, replace=False))]


def evaluate(
    params: Params,
    prepared_dir: str | Path,
    generator_path: str | Path | MadeElsewhere,
    metrics_path: str | Path,
    plots_dir: str | Path | None,
    train_log: str | Path | None = None,
    progress: bool | None = None,
) -> dict:
    """Score the generator (a generator file, or windows made elsewhere) and write the metrics file; draw the
    figures into plots_dir unless it is None."""
    started = time.perf_counter()
    cfg = params.evaluate
    prepared = load_prepared(prepared_dir)
    device = resolve_device(cfg.device)
    generator = generator_path if isinstance(generator_path, MadeElsewhere) else load_generator(generator_path, device)
    if generator.columns != prepared.columns or generator.seq_len != prepared.seq_len:
        raise RganError(
            f"{generator_path} was trained on columns {generator.columns} with seq_len {generator.seq_len}, "
            f"but the prepared data has {prepared.columns} with seq_len {prepared.seq_len}: retrain first"
        )
    held_out = prepared.windows("test", limit=cfg.max_windows, seed=cfg.seed)
    # the real side of the fidelity scores: the held-out windows, or every window of the data (the TimeGAN reference
    # code's protocol: comparable with published scores, though the scores then also see training windows)
    test = held_out if cfg.real_windows == "test" else prepared.windows(ALL_WINDOWS, limit=cfg.max_windows, seed=cfg.seed)
    train = prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=cfg.seed)
    first = prepared.scaler.feature_width
    categorical_attributes = [(name, (a, b)) for name, a, b, categorical in prepared.scaler.attribute_fields if categorical]
    with one_thread():  # the post-hoc trainings below run in parallel, one thread each
        synthetic = [generator.sample_scaled(len(test), seed=cfg.seed + r + 1_000_003) for r in range(cfg.repeats)]
        # with categorical attributes: windows generated with the test windows' own attributes, for condition scores
        conditioned = (generator.sample_scaled(len(test), seed=cfg.seed + 3_000_017,
                                               vectors=test[:, 0, first:first + prepared.scaler.attribute_width])
                       if categorical_attributes else None)

    entry = reference.key(prepared.stats, cfg, device.type, MAX_TRAIN_WINDOWS)
    cached = reference.load(entry, cfg.repeats)
    reference_state = "computed" if cached is None else "cached"
    # the forecast target: the last feature (not an attribute, constant in a window, nor `_valid`)
    target = prepared.scaler.feature_width - 1 if prepared.dim != prepared.scaler.feature_width else None
    # the real-data stand-ins for a generator: as many training windows as test ones, per repeat (the floors)
    stand_ins = [floor.real_reference(train, len(test), seed=cfg.seed + r) for r in range(cfg.repeats)]
    specs = _posthoc_specs(cfg, test, train, synthetic, stand_ins, references=cached is None, target=target,
                           masked=prepared.sequences)
    by_condition = _per_condition_specs(cfg, test, conditioned, first, categorical_attributes, prepared.scaler,
                                        masked=prepared.sequences)
    # Grouped trainings in parallel, the longest first: the repeats of each score as one group (the per-condition
    # classifiers with the discriminative repeats), the references as groups of their own, so a score is the same
    # to the bit whether the references were cached or not. One group of everything costs more: a group's matrices
    # grow with its members, and a forecaster's batch would be padded to the classifiers' double batch.
    groups = {name: [spec] for name, spec in specs.items()}
    groups["discriminative"] += [spec for _, spec in by_condition]
    longest_first = sorted(groups, key=lambda name: name.startswith("discriminative"))  # forecasters: 5,000 steps by default
    tasks = [(name, posthoc.scores_together, (groups[name],), dict(device=device)) for name in longest_first]
    # context-FID: one encoder trained on real training windows; the synthetic repeats and, as its floor, the
    # stand-ins, each against the test windows (the encoder from the cache when these windows were fitted before,
    # e.g. by the run's validation: context_fid.encoder_for)
    fit_on, real, *others = (context_fid.as_windows(w, prepared.sequences) for w in (train, test, *synthetic, *stand_ins))
    tasks.append(("context_fid", context_fid.context_fids, (fit_on, real, others),
                  dict(seed=cfg.seed, iterations=cfg.context_fid_iterations)))
    shown = min(cfg.plot_samples, len(test))
    if plots_dir is not None:  # t-SNE is the one slow figure: computed beside the trainings
        tasks.append(("tsne", plots.tsne_coordinates, (test[:shown], synthetic[0][:shown]), dict(seed=cfg.seed)))
    workers = parallel.worker_count(cfg.workers if device.type == "cpu" else 1, len(tasks))
    results = dict(parallel.run_tasks(tasks, workers=workers, progress=progress))
    per_label = results["discriminative"][1:]  # the per-condition classifiers' scores, in by_condition's order
    for name in groups:
        results[name] = results[name][0]  # each group's first spec is its score's
    repeats = cfg.repeats
    scores: dict[str, list[float]] = {name: results[name][:repeats] for name in ("discriminative", "predictive")}
    if cached is None:
        cached = {name: results[name] for name in ("discriminative_floor", "predictive_real")}
        reference.store(entry, cached)
    scores.update(cached)
    scores["context_fid"], scores["context_fid_floor"] = results["context_fid"][:repeats], results["context_fid"][repeats:]
    kept = slice(None, -2) if prepared.sequences else slice(None)  # sequences mode: not the `_length`/`_valid` flags
    valid = (lambda w: w[..., -1] > 0.5) if prepared.sequences else (lambda w: None)  # sequences mode: valid steps only
    features = prepared.scaler.feature_width  # attributes are constant within a window: no autocorrelation
    # sequences mode: nearest neighbours over the padded values (zero past each end), not the `_length`/`_valid` flags
    for synth in synthetic:
        scores.setdefault("marginal_w1", []).append(distances.marginal_distance(test, synth, valid(test), valid(synth)))
        scores.setdefault("autocorr_diff", []).append(distances.autocorrelation_difference(
            test[..., :features], synth[..., :features], cfg.acf_lags, valid(test), valid(synth)))
        scores.setdefault("memorization_ratio", []).append(distances.memorization_ratio(train[..., kept], held_out[..., kept], synth[..., kept]))
        scores.setdefault("correlational", []).append(distances.correlational_score(
            test[..., :features], synth[..., :features], valid(test), valid(synth)))
        # privacy beyond memorization: the test windows are the held-out real data the training never saw
        scores.setdefault("dcr_share", []).append(distances.dcr_share(train[..., kept], held_out[..., kept], synth[..., kept], cfg.seed))
        scores.setdefault("membership_auc", []).append(distances.membership_auc(train[..., kept], held_out[..., kept], synth[..., kept], cfg.seed))
    groups = prepared.scaler.groups
    if groups:
        scores["category_tv"] = [distances.category_distance(test, synth, groups, valid(test), valid(synth)) for synth in synthetic]
    attributes = [field for field in prepared.scaler.attribute_fields if field[0] != LENGTH_COLUMN]
    if attributes:
        fields = [(a, b, categorical) for _, a, b, categorical in attributes]
        scores["attribute_distance"] = [conditions.attribute_distance(test[:, 0, first:], s[:, 0, first:], fields) for s in synthetic]
    if prepared.sequences:
        scores["length_w1"] = [conditions.length_distance(test, s) for s in synthetic]

    order = ("discriminative", "discriminative_floor", "predictive", "predictive_real", "marginal_w1", "autocorr_diff",
             "correlational", "context_fid", "context_fid_floor", "memorization_ratio", "dcr_share", "membership_auc",
             *(("category_tv",) if groups else ()), *(("attribute_distance",) if attributes else ()),
             *(("length_w1",) if prepared.sequences else ()))
    metrics: dict = {name: {"mean": round(float(np.mean(scores[name])), 6), "std": round(float(np.std(scores[name])), 6)} for name in order}
    metrics.update(_ratios(metrics, n_test=len(test), n_train=len(train)))
    metrics["memorization_pass"] = bool(metrics["memorization_ratio"]["mean"] >= cfg.memorization_threshold)
    if groups:  # the shares behind category_tv, per column and label: real test windows against the first repeat
        real_freq, synth_freq = (distances.category_frequencies(w, groups, valid(w)) for w in (test, synthetic[0]))
        metrics["category_frequencies"] = {
            column: {str(label): {"real": round(float(r), 6), "synthetic": round(float(f), 6)} for label, r, f in zip(labels, rs, fs)}
            for column, rs, fs in zip(prepared.scaler.categorical_features, real_freq, synth_freq)
            for labels in [prepared.scaler.categories[column]]
        }
    if prepared.sequences:  # lengths per label of each categorical attribute: real test sequences against the first repeat
        metrics["length_w1_by"] = conditions.length_distance_by(test, synthetic[0], first, prepared.scaler)
    if categorical_attributes:  # generated with the test windows' own attributes, judged by a real-data classifier
        metrics["condition_accuracy"] = conditions.condition_accuracy(
            train, test, conditioned, first, [block for _, block in categorical_attributes],
            [name for name, _ in categorical_attributes], cfg.seed)
    if by_condition:  # real test windows of each label against those generated with their attributes
        metrics["discriminative_by"] = {}
        for ((name, label), _), (score,) in zip(by_condition, per_label):
            metrics["discriminative_by"].setdefault(name, {})[label] = round(float(score), 6)
        worst = max(v for labels in metrics["discriminative_by"].values() for v in labels.values())
        metrics["discriminative_worst_condition"] = {"mean": worst, "std": 0.0}  # a score the registry can gate on
    metrics["windows"] = int(len(test))
    metrics["repeats"] = cfg.repeats

    if plots_dir is not None:
        _draw(prepared, test, synthetic[0], shown, results["tsne"], Path(plots_dir), train_log, cfg.seed)
    write_json(metrics_path, metrics)
    # what the caller reports: not in the file, whose bytes must not depend on the machine or the cache
    return {**metrics, "workers": workers, "reference": reference_state, "seconds": round(time.perf_counter() - started, 1)}


def _draw(prepared, test: np.ndarray, synthetic: np.ndarray, shown: int, tsne: np.ndarray, plots_dir: Path, train_log, seed: int) -> None:
    spread = np.linspace(0, len(test) - 1, 5).astype(int)  # neighbouring windows overlap; show distant ones
    with atomic_dir(plots_dir) as tmp:
        plots.embedding_plots(test[:shown], synthetic[:shown], tsne, tmp, seed=seed)
        plots.trace_plot(
            prepared.scaler.inverse_transform(test[spread].astype(np.float64)),
            prepared.scaler.inverse_transform(synthetic[:5].astype(np.float64)),
            prepared.columns,
            tmp / "traces.png",
        )
        if train_log is not None and Path(train_log).is_file():
            plots.loss_plot(Path(train_log), tmp / "losses.png")
