"""The train stage: sample batches of prepared windows, run the objective, log, checkpoint, resume.

Determinism: model init, batch indices and noise come from seeded generators whose states are saved in
every checkpoint, so a resumed run repeats exactly the computation of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import math
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from pydantic import BaseModel
from tqdm import tqdm

import rgan
from rgan.atomic import atomic_path, remove_stale_temps, write_json
from rgan.config import Params
from rgan.data.prepare import Prepared, load_prepared
from rgan.device import resolve_device, set_threads
from rgan.errors import RganError
from rgan.models.attributes import AttributeModel
from rgan.notes import plain
from rgan.stages import TRAIN
from rgan.training import checkpoint
from rgan.training.health import HealthMonitor
from rgan.training.kinds import build_objective
from rgan.training.objective import AdversarialObjective
from rgan.training.validation import Selection, validator_for

LOG_COLUMNS = ["step", "d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "d_acc", "d_state", "gp",
               "g_grad_norm", "d_grad_norm", "elapsed_s", "steps_per_s", "val_context_fid"]  # the last: at validations only
CHECKPOINT_NAME = "last.pt"
# The log as of the last checkpoint (what --resume continues), and the one being written now: a run that
# fails before its first checkpoint leaves the previous run's log and checkpoint together, untouched.
PUBLISHED_LOG_NAME = "train_log.tsv"
WORKING_LOG_NAME = "train_log.live.tsv"
LOCK_NAME = ".train.lock"
# Settings a resumed run may change without invalidating the checkpoint. The device setting too: what must
# not change is the device type actually used (the noise RNG state belongs to one), checked on its own.
RESUMABLE_CHANGES = {"steps", "log_every", "checkpoint_every", "threads", "health_steps", "device", "compile", "keep"}
DEVICE_TYPES = ("cpu", "cuda")  # what train.device resolves to


@dataclass(frozen=True)
class TrainPaths:
    # the train stage's outputs (rgan.stages)
    generator: Path = Path(TRAIN.path("--generator"))
    checkpoints: Path = Path(TRAIN.path("--checkpoints"))
    log: Path = Path(TRAIN.path("--log"))
    metrics: Path = Path(TRAIN.path("--metrics"))


class TrainingInterrupted(RganError):
    def __init__(self, signum: int, step: int, path: Path):
        super().__init__(
            f"interrupted by {signal.Signals(signum).name} at step {step}; checkpoint saved to {path}; "
            "continue with `rgan train --resume`"
        )
        self.exit_code = 128 + signum


class _StopOnSignal:
    """Turn SIGINT/SIGTERM into a flag the loop checks after each step, so it can checkpoint before exiting."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _BatchSampler:
    """Random training windows gathered from the scaled series, all on the device: the batch indices come from a
    seeded generator there too, so a GPU step never waits for a copy from the host."""

    def __init__(self, prepared: Prepared, batch_size: int, device: torch.device, seed: int):
        self.series = torch.from_numpy(np.array(prepared.series, dtype=np.float32)).to(device)
        self.starts = torch.from_numpy(prepared.starts["train"]).to(device)
        self.offsets = torch.arange(prepared.seq_len, device=device)
        self.batch_size = batch_size
        self.device = device
        self.rng = torch.Generator(device=device).manual_seed(seed)
        self.lengths = None
        if prepared.sequences:  # padded sequences with `_length` and `_valid`, as Prepared.windows gathers them
            self.lengths = torch.from_numpy(prepared.lengths["train"]).to(device)
            low, high = prepared.scaler.data_min[-2], prepared.scaler.data_max[-2]
            self.scaled_lengths = ((self.lengths - low) / (high - low if high > low else 1.0)).float()

    def __call__(self) -> torch.Tensor:
        pick = torch.randint(len(self.starts), (self.batch_size,), generator=self.rng, device=self.device)
        if self.lengths is None:
            return self.series[self.starts[pick, None] + self.offsets]  # rows (batch, seq_len) of the series
        rows = (self.starts[pick, None] + self.offsets).clamp(max=len(self.series) - 1)
        valid = self.offsets[None, :] < self.lengths[pick, None]
        values = torch.where(valid[..., None], self.series[rows], 0.0)
        length = torch.where(valid, self.scaled_lengths[pick, None], 0.0)
        return torch.cat([values, length[..., None], valid[..., None].float()], dim=2)


class _LiveLog:
    """TSV of logged steps, written at `path` and published to `published` with every checkpoint.
    On resume, the published rows up to the checkpoint's step are kept and the rest dropped."""

    def __init__(self, path: Path, published: Path, resume_step: int, columns: list[str] = LOG_COLUMNS):
        self.path, self.published = path, published
        kept: list[dict] = []
        if resume_step > 0 and published.is_file():
            with published.open(newline="") as f:
                kept = [row for row in csv.DictReader(f, delimiter="\t") if int(row["step"]) <= resume_step]
        self.kept = kept
        self.elapsed = float(kept[-1]["elapsed_s"]) if kept else 0.0
        self.last_step = int(kept[-1]["step"]) if kept else resume_step
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", newline="")
        self._writer = csv.DictWriter(self._file, columns, delimiter="\t")
        self._writer.writeheader()
        self._writer.writerows(kept)
        self._file.flush()

    def append(self, row: dict) -> None:
        self._writer.writerow(row)
        self._file.flush()
        self.last_step = row["step"]
        self.elapsed = row["elapsed_s"]

    def publish(self) -> None:
        with atomic_path(self.published) as tmp:
            shutil.copyfile(self.path, tmp)

    def close(self) -> None:
        self._file.close()


@contextlib.contextmanager
def output_lock(paths: TrainPaths, extra_outputs: tuple[Path, ...] = ()):
    """One training at a time per output folder: a second `rgan train` (or `rgan log`) on the same paths
    refuses at once instead of silently replacing the first one's outputs. Under the lock, temporary files
    left by a killed run are removed."""
    from filelock import FileLock, Timeout

    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    lock = FileLock(paths.checkpoints / LOCK_NAME)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RganError(
            f"another rgan train or log is writing to {paths.checkpoints} right now: wait for it to finish, "
            "or give this one other output paths"
        ) from None
    try:
        outputs = (paths.generator, paths.log, paths.metrics, paths.checkpoints / CHECKPOINT_NAME,
                   paths.checkpoints / PUBLISHED_LOG_NAME, *extra_outputs)
        for target in outputs:
            remove_stale_temps(target)
        yield
    finally:
        lock.release()


def _check_finite(row: dict, step: int) -> None:
    # NaN marks a value that does not apply (TimeGAN's phases log some losses only): a run has diverged when
    # a value is infinite, or when no value is finite any more (NaN weights make every loss NaN).
    values = {k: v for k, v in row.items() if isinstance(v, float)}
    bad = [k for k, v in values.items() if math.isinf(v)] or (
        list(values) if values and not any(math.isfinite(v) for v in values.values()) else [])
    if bad:
        raise RganError(
            f"training diverged at step {step}: {', '.join(f'{k} = {row[k]}' for k in bad)}. Lower train.g_lr and "
            "train.d_lr, or set train.grad_clip; the last good checkpoint is kept"
        )


def _check_resumable(saved: dict, params: Params, prepared: Prepared) -> None:
    current = params.model_dump()
    differences = []
    for section in ("model", "train"):
        for key, value in current[section].items():
            if section == "train" and key in RESUMABLE_CHANGES:
                continue
            was = saved["params"][section].get(key, _MISSING)
            if was is _MISSING:  # a setting added to rgan after the checkpoint: it trained as the setting's default
                was = _default(getattr(params, section), key)
            if was != value:
                differences.append(f"{section}.{key}: {was!r} -> {value!r}")
    if saved["prepared_stats"] != prepared.stats:
        differences.append("the prepared data changed (rows, columns, windows or split)")
    if differences:
        raise RganError("cannot resume: the checkpoint was trained with other settings: " + "; ".join(differences))


_MISSING = object()


def _default(section: BaseModel, key: str) -> object:
    """A setting's documented default, as `model_dump` writes it."""
    default = type(section).model_fields[key].get_default(call_default_factory=True)
    return default.model_dump() if isinstance(default, BaseModel) else default


def _trained_device_type(saved: dict) -> str:
    """The device type a checkpoint was trained on. Checkpoints from before rgan recorded it: the one its
    train.device setting gives, `auto` read on this machine (most likely the one that wrote it)."""
    if "device_type" in saved:
        recorded = saved["device_type"]
    else:
        setting = saved["params"]["train"]["device"]
        recorded = resolve_device("auto").type if setting == "auto" else str(setting).split(":")[0]
    if recorded not in DEVICE_TYPES:
        raise ValueError(f"device type {plain(recorded)}, not one of {', '.join(DEVICE_TYPES)}")
    return recorded


def _check_device(saved: dict, device: torch.device, setting: str, path: Path) -> None:
    trained_on = _trained_device_type(saved)
    if trained_on != device.type:
        raise RganError(
            f"cannot resume: {path} was trained on {trained_on} but this run uses {device.type} (train.device "
            f"'{setting}'), and its random states do not carry over: set train.device to {trained_on} on a machine "
            "that has one, or train afresh without --resume"
        )


def _rng_states(sampler: _BatchSampler, noise_rng: torch.Generator) -> dict:
    return {"batches": sampler.rng.get_state(), "noise": noise_rng.get_state(), "torch": torch.get_rng_state()}


def generator_payload(objective: AdversarialObjective, fixed: dict, step: int) -> dict:
    """Everything needed to sample in original units: the weights and step, with `fixed`, the parts that do not change
    during a run (generator_parts: model config, scaler, column names)."""
    return {
        **fixed,
        # copies: a payload kept as the best so far must not follow the weights as they train on
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in objective.sampling_generator.state_dict().items()},
        "trained_steps": step,
    }


def generator_parts(params: Params, prepared: Prepared) -> dict:
    """A generator file's contents other than its weights and step."""
    return {
        "format": checkpoint.GENERATOR_FORMAT,
        "rgan_version": rgan.__version__,
        "model": params.model.model_dump(),
        "dim": prepared.dim,
        "seq_len": prepared.seq_len,
        "columns": prepared.columns,
        "scaler": prepared.scaler.to_dict(),
        "train": params.train.model_dump(),
        # the attributes' joint distribution, for sampling without (or with some) conditions
        **({"attributes": AttributeModel.fit(prepared.attribute_vectors("train"), prepared.scaler.attribute_groups).to_dict()}
           if prepared.scaler.attributes else {}),
    }


def train(
    params: Params,
    prepared_dir: str | Path,
    paths: TrainPaths = TrainPaths(),
    resume: bool = False,
    progress: bool | None = None,
    on_log: Callable[[dict], None] | None = None,
    lock: bool = True,
) -> dict:
    """Train, writing the generator, checkpoints, log and summary. `on_log` receives each logged row.
    lock=False: the caller already holds `output_lock(paths)`."""
    prepared = load_training_data(params, prepared_dir)  # checked before anything is written
    with output_lock(paths) if lock else contextlib.nullcontext():
        return _train(params, prepared, paths, resume, progress, on_log)


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def load_training_data(params: Params, prepared_dir: str | Path) -> Prepared:
    """The prepared data, and the settings that depend on it or on this machine, checked before anything is written."""
    cfg = params.train
    device = resolve_device(cfg.device)
    if cfg.precision != "fp32" and device.type != "cuda":
        # CPU autocast: oneDNN has no reduced-precision LSTM on most CPUs, and these nets gain nothing from it there
        raise RganError(f"train.precision {cfg.precision} is mixed precision for GPUs, and this run uses {device} "
                        f"(train.device '{cfg.device}'): set train.precision to fp32, or train on a CUDA device")
    prepared = load_prepared(prepared_dir)
    n_train = len(prepared.starts["train"])
    if params.train.batch_size > n_train:
        raise RganError(
            f"train.batch_size {params.train.batch_size} is above the {n_train} training windows: lower it to at most {n_train}"
        )
    return prepared


def _train(params: Params, prepared: Prepared, paths: TrainPaths, resume: bool, progress, on_log) -> dict:
    cfg = params.train
    device = resolve_device(cfg.device)
    threads = set_threads(cfg.threads)  # train.threads, else the CPU quota (a container's or pod's CPU limit)

    torch.manual_seed(cfg.seed)  # model initialisation
    objective = build_objective(params.model, cfg, prepared.dim, device, prepared.scaler.groups,
                                conditions=prepared.scaler.condition_width, masked=prepared.sequences)
    if cfg.compile:
        objective.compile()
    sampler = _BatchSampler(prepared, cfg.batch_size, device, seed=cfg.seed)
    noise_rng = torch.Generator(device=device).manual_seed(cfg.seed + 1)

    ckpt_path = paths.checkpoints / CHECKPOINT_NAME
    start, selection = 0, Selection()
    if resume:
        if ckpt_path.is_file():
            # on the CPU: RNG states must stay CPU tensors; load_state_dict moves weights to the device
            saved = checkpoint.load(ckpt_path, checkpoint.CHECKPOINT_FORMAT, map_location="cpu")
            try:
                _check_resumable(saved, params, prepared)
                _check_device(saved, device, cfg.device, ckpt_path)
                objective.load_state_dict(saved["objective"])
                sampler.rng.set_state(saved["rng"]["batches"])
                noise_rng.set_state(saved["rng"]["noise"])
                torch.set_rng_state(saved["rng"]["torch"])
                selection = Selection(saved.get("selection"))  # absent in checkpoints from before validation
                start = int(saved["step"])
            except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
                raise RganError(f"{ckpt_path} is a damaged checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                                "delete it to start again from step 0") from None
            print(f"resuming from step {start} ({ckpt_path})", file=sys.stderr)
        else:
            print(f"no checkpoint at {ckpt_path}; starting from step 0", file=sys.stderr)
    fixed = generator_parts(params, prepared)
    validator = validator_for(params, prepared)

    def validate(step: int) -> float:
        payload = generator_payload(objective, fixed, step)
        score = validator.score(payload, device)
        selection.record(step, score, payload)
        return score

    def save_checkpoint(step: int) -> None:
        log.publish()  # first: the published log always reaches at least the checkpoint's step
        checkpoint.save(
            {
                "format": checkpoint.CHECKPOINT_FORMAT,
                "step": step,
                "device_type": device.type,
                "objective": objective.state_dict(),
                "rng": _rng_states(sampler, noise_rng),
                "params": params.model_dump(),
                "scaler": prepared.scaler.to_dict(),
                "seq_len": prepared.seq_len,
                "prepared_stats": prepared.stats,
                "selection": selection.state_dict(),
            },
            ckpt_path,
        )

    log = _LiveLog(paths.checkpoints / WORKING_LOG_NAME, paths.checkpoints / PUBLISHED_LOG_NAME, resume_step=start,
                   columns=LOG_COLUMNS + objective.extra_log_columns)
    monitor = HealthMonitor(cfg.health_steps, cfg.log_every)
    health_warnings: list[str] = []
    for kept in log.kept:  # a resumed run judges health over the same window as an uninterrupted one
        _, _, warning = monitor.update({k: float(v) if k.startswith("d_acc_") and v else v for k, v in kept.items()})
        health_warnings += [warning] if warning else []
    bar = tqdm(total=cfg.steps, initial=min(start, cfg.steps), unit="step", disable=None if progress is None else not progress, dynamic_ncols=True, desc="train")
    last_time, last_step, run_start = time.perf_counter(), start, time.perf_counter()
    try:
        with _StopOnSignal() as stopper:
            for step in range(start + 1, cfg.steps + 1):
                with objective.autocast():
                    out = objective.step(sampler, noise_rng)
                bar.update(1)
                validated = validator is not None and step % cfg.validate_every == 0
                score = validate(step) if validated else None
                if step % cfg.log_every == 0 or step == cfg.steps or validated:
                    now = time.perf_counter()
                    row = {k: round(float(v), 6) for k, v in out.items()}
                    _check_finite(row, step)
                    accuracy, state, warning = monitor.update({**row, "step": step})
                    if warning is not None:
                        health_warnings.append(warning)
                        if bar.disable:
                            print(f"warning: {warning}", file=sys.stderr, flush=True)
                        else:
                            bar.write(f"warning: {warning}", file=sys.stderr)
                    row.update(
                        d_acc=round(accuracy, 6),
                        d_state=state,
                        step=step,
                        elapsed_s=round(log.elapsed + now - last_time, 3),
                        steps_per_s=round((step - last_step) / max(now - last_time, 1e-9), 2),
                        **({"val_context_fid": round(score, 6)} if validated and math.isfinite(score) else {}),
                    )
                    log.append(row)
                    if on_log is not None:
                        on_log(row)
                    last_time, last_step = now, step
                    bar.set_postfix(d_loss=f"{row['d_loss']:.3f}", g_loss=f"{row['g_loss']:.3f}")
                if step % cfg.checkpoint_every == 0:
                    save_checkpoint(step)
                    if bar.disable:  # no TTY: a plain progress line per checkpoint for logs
                        print(f"step {step}/{cfg.steps} d_loss={out['d_loss']:.4f} g_loss={out['g_loss']:.4f}", file=sys.stderr, flush=True)
                if stopper.signum is not None:
                    save_checkpoint(step)
                    raise TrainingInterrupted(stopper.signum, step, ckpt_path)
    finally:
        bar.close()
        log.close()

    final_step = max(start, cfg.steps)
    save_checkpoint(final_step)
    last = generator_payload(objective, fixed, final_step)
    last_score = selection.scores.get(final_step)
    if validator is not None and last_score is None:
        # the last weights are a candidate too; scored for the choice and the summary, not recorded in the checkpoint
        # or the log: a run resumed past this step must repeat an uninterrupted one, which did not validate here
        last_score = validator.score(last, device)
    shipped, shipped_score = last, last_score
    if cfg.keep == "best" and last_score is not None and selection.best_score < last_score:
        shipped, shipped_score = selection.best_payload, selection.best_score
    checkpoint.save(shipped, paths.generator)
    with atomic_path(paths.log) as tmp:
        shutil.copyfile(log.path, tmp)
    log.path.unlink(missing_ok=True)  # published with the final checkpoint
    wall = time.perf_counter() - run_start
    summary = {
        "steps": final_step,
        "steps_this_run": final_step - start,
        "wall_time_s": round(wall, 2),
        "steps_per_s": round((final_step - start) / max(wall, 1e-9), 2),
        "device": str(device),
        "threads": threads,
        # the discriminator's health (rgan.training.health): its balanced accuracy over the last
        # train.health_steps steps, and the warnings given
        "d_accuracy": None if math.isnan(monitor.accuracy) else round(monitor.accuracy, 4),
        "d_state": monitor.state,
        "health_warnings": health_warnings,
        # the generator shipped (train.keep): its step, and the validation context-FID of it and of the last weights
        "generator_step": int(shipped["trained_steps"]),
        "val_context_fid": _rounded(shipped_score),
        "val_context_fid_last": _rounded(last_score),
        "validations": len(selection.scores),  # in the loop, at train.validate_every
        "validation_s": None if validator is None else round(validator.seconds, 2),  # this run's: encoder and scoring
    }
    write_json(paths.metrics, summary)
    return summary
