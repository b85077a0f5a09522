"""Validation during training, and the choice of the generator to ship.

An adversarial game does not converge to its best point and stay there: on the default data the shipped network's
scores improve for 7,000 steps, then drift (bench/results/selection_study.md). So at every `train.validate_every`
steps the network that would be shipped is scored on the validation windows (never the test windows, which the
evaluate stage keeps for itself) and, with `train.keep: best`, the generator file holds the best-scored one.

The score is context-FID (rgan.evaluation.context_fid, the evaluate stage's definition): the encoder is trained once,
at the start, on real training windows; each validation then costs a generation and an embedding of the validation
windows (under a second for 1,000 windows of 24 steps on one CPU thread). The same noise is drawn at every
validation, so two validations differ only by the network. Nothing here touches the training's random states.
"""

from __future__ import annotations

import math
import sys
import time

import torch

from rgan.config import Params
from rgan.data.prepare import Prepared
from rgan.evaluation import MAX_TRAIN_WINDOWS
from rgan.evaluation.context_fid import ContextFid, as_windows
from rgan.notes import note

MAX_VALIDATION_WINDOWS = 2000  # validation windows scored at most: a validation's cost stays bounded
MIN_VALIDATION_WINDOWS = 10  # fewer: a Fréchet distance between 320-dimensional embeddings means nothing
SEED_OFFSET = 4_000_037  # validation noise differs from the evaluate stage's and tuning's


def validator_for(params: Params, prepared: Prepared) -> "Validator | None":
    """The validation of this run, or None when train.validate_every is null or the data has too few validation
    windows (said on stderr: the last weights are shipped)."""
    cfg = params.train
    if cfg.validate_every is None:
        return None
    if len(prepared.starts["val"]) < MIN_VALIDATION_WINDOWS:
        note(f"{len(prepared.starts['val'])} validation windows (data.val_fraction {params.data.val_fraction}): training "
             f"is not validated and the last weights are shipped (validation needs {MIN_VALIDATION_WINDOWS}; raise "
             "data.val_fraction, or set train.keep: last and train.validate_every: null to silence this)")
        return None
    validator = Validator(prepared, cfg.seed, cfg.validate_iterations)
    encoder = "from the cache" if validator.scorer.cached else "trained"
    print(f"validation: context-FID on {validator.n} validation windows every {cfg.validate_every} steps "
          f"(its encoder {encoder}, {validator.seconds:.1f} s)", file=sys.stderr)
    return validator


class Validator:
    """Context-FID of a generator payload (what would be written as the generator file) on the validation windows."""

    def __init__(self, prepared: Prepared, seed: int, iterations: int | None = None):
        started = time.perf_counter()
        self.seed = seed
        self.sequences = prepared.sequences
        val = prepared.windows("val", limit=MAX_VALIDATION_WINDOWS, seed=seed)
        self.n = len(val)
        train = prepared.windows("train", limit=MAX_TRAIN_WINDOWS, seed=seed)
        # the encoder trains under its own seeds (fit_encoder forks the RNG): the training's states are untouched
        self.scorer = ContextFid(as_windows(train, self.sequences), as_windows(val, self.sequences), seed, iterations)
        self.seconds = time.perf_counter() - started  # the encoder's training, then every validation added

    def score(self, payload: dict, device: torch.device) -> float:
        from rgan.sampling import generator_from_payload

        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):  # building the sampler initialises weights from the global RNG
            generator = generator_from_payload(payload, device, "the network being trained")
            synthetic = generator.sample_scaled(self.n, seed=self.seed + SEED_OFFSET)
        value = self.scorer.score(as_windows(synthetic, self.sequences))
        self.seconds += time.perf_counter() - started
        return value if math.isfinite(value) else math.inf


class Selection:
    """The validations of a run (step -> score) and the best one's generator payload. Ties keep the earlier step."""

    def __init__(self, state: dict | None = None):
        state = state or {}
        self.scores: dict[int, float] = {int(step): float(score) for step, score in state.get("scores", [])}
        self.best_step: int | None = state.get("best_step")
        self.best_payload: dict | None = state.get("best_generator")

    @property
    def best_score(self) -> float:
        return self.scores[self.best_step] if self.best_step is not None else math.inf

    def record(self, step: int, score: float, payload: dict) -> bool:
        """Record a validation; True when it is the best so far (its payload is then kept)."""
        is_best = self.best_step is None or score < self.best_score
        self.scores[step] = score
        if is_best:
            self.best_step, self.best_payload = step, payload
        return is_best

    def state_dict(self) -> dict:
        """For the checkpoint: plain lists, numbers and the best payload's tensors."""
        return {"scores": [[step, score] for step, score in sorted(self.scores.items())], "best_step": self.best_step,
                "best_generator": self.best_payload}
