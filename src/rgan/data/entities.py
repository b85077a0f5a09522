"""The built-in per-entity dataset: what `data.attribute_columns`, `data.categorical_columns` and sequences of their
own length are for, with a known answer.

Machines of three classes (attribute `class`: compressor, fan, pump), each with a static `size` (numeric attribute,
its mean depending on the class) and its own number of steps, drawn from a class-dependent range between 10 and 60.
At each step a categorical `state` (idle, run, alarm) follows a Markov chain whose switching depends on the class,
and the numeric `load` follows the state (idle low, run high, alarm spiking) with a class-specific oscillation whose
amplitude is the size. So the class shows in the features, the lengths and the states, and a generator conditioned
on the class must reproduce all three."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rgan.config import EntitiesConfig
from rgan.data.sines import write_table

ENTITY_COLUMN = "machine"
TIME_COLUMN = "step"
CLASSES = ("compressor", "fan", "pump")
STATES = ("idle", "run", "alarm")
LENGTHS = {"compressor": (10, 30), "fan": (20, 45), "pump": (35, 60)}  # inclusive ranges of steps
SIZE_MEAN = {"compressor": 1.0, "fan": 2.0, "pump": 3.0}
PERIOD = {"compressor": 4.0, "fan": 8.0, "pump": 16.0}  # steps per oscillation of the load
# per class: the probability of staying in each state (the rest moves to the next state in idle -> run -> alarm -> idle)
STAY = {"compressor": (0.6, 0.6, 0.3), "fan": (0.85, 0.9, 0.5), "pump": (0.95, 0.95, 0.7)}
STATE_LEVEL = (0.0, 1.0, 2.0)


def make_entities(cfg: EntitiesConfig) -> pd.DataFrame:
    """Long table: machine, step, load, state, class, size; one row per (machine, step)."""
    rng = np.random.default_rng(cfg.seed)
    frames = []
    for machine in range(cfg.n_entities):
        kind = CLASSES[rng.integers(len(CLASSES))]
        low, high = LENGTHS[kind]
        length = int(rng.integers(low, high + 1))
        size = float(np.clip(rng.normal(SIZE_MEAN[kind], 0.25), 0.25, None))
        states = np.empty(length, dtype=np.int64)
        states[0] = rng.integers(2)  # idle or run at the start
        for t in range(1, length):
            stay = STAY[kind][states[t - 1]]
            states[t] = states[t - 1] if rng.random() < stay else (states[t - 1] + 1) % 3
        t = np.arange(length)
        phase = rng.uniform(0, 2 * np.pi)
        load = (np.asarray(STATE_LEVEL)[states] + size * np.sin(2 * np.pi * t / PERIOD[kind] + phase)
                + 0.1 * rng.normal(size=length))
        frames.append(pd.DataFrame({ENTITY_COLUMN: f"m{machine:05d}", TIME_COLUMN: t, "load": load,
                                    "state": np.asarray(STATES)[states], "class": kind, "size": round(size, 4)}))
    return pd.concat(frames, ignore_index=True)


def write_entities(cfg: EntitiesConfig, out: str | Path) -> Path:
    return write_table(make_entities(cfg), out)
