"""How well a conditional generator follows its conditions and draws its attributes.

Condition fidelity (per categorical attribute): a classifier learns to tell the attribute from the features of real
training windows; its accuracy on real test windows says how much the features reveal the attribute at all, its
accuracy on windows generated with those test windows' attributes says how much of that the generator reproduces.
Chance is the most frequent category's share of the test windows.

Attribute distance: the attributes the generator draws against those of the real test windows, per attribute
(total variation for a categorical one, Wasserstein-1 on the [0, 1] scale for a numeric one)."""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance


def _summary(windows: np.ndarray) -> np.ndarray:
    """Per window: the values themselves plus each feature's mean, spread, range and lag-1 change."""
    n = len(windows)
    diffs = np.diff(windows, axis=1)
    return np.concatenate([windows.reshape(n, -1), windows.mean(1), windows.std(1), windows.max(1) - windows.min(1),
                           np.abs(diffs).mean(1)], axis=1)


def condition_accuracy(train: np.ndarray, test: np.ndarray, synthetic: np.ndarray, features: int, blocks, names, seed: int) -> dict:
    """{attribute: {real, synthetic, chance}}; `synthetic[i]` was generated with `test[i]`'s attributes; `blocks`:
    each categorical attribute's one-hot columns, counted from `features` (the first attribute column)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test, x_synth = (_summary(w[:, :, :features]) for w in (train, test, synthetic))
    out = {}
    for name, (a, b) in zip(names, blocks):
        y_train = train[:, 0, features + a:features + b].argmax(1)
        y_test = test[:, 0, features + a:features + b].argmax(1)
        chance = float(np.bincount(y_test).max() / len(y_test))
        if len(np.unique(y_train)) < 2:
            out[name] = {"real": 1.0, "synthetic": 1.0, "chance": chance}
            continue
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        classifier.fit(x_train, y_train)
        out[name] = {"real": round(float((classifier.predict(x_test) == y_test).mean()), 6),
                     "synthetic": round(float((classifier.predict(x_synth) == y_test).mean()), 6),
                     "chance": round(chance, 6)}
    return out


def lengths(windows: np.ndarray) -> np.ndarray:
    """Sequences mode: each padded sequence's length, from its `_valid` column (the last)."""
    return (windows[..., -1] > 0.5).sum(axis=1)


def length_distance(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Wasserstein-1 between the real and generated sequence lengths, in steps."""
    return float(wasserstein_distance(lengths(real), lengths(synthetic)))


def length_distance_by(real: np.ndarray, synthetic: np.ndarray, first: int, scaler) -> dict:
    """Per categorical attribute and label: {real mean length, generated mean length, Wasserstein-1}, in steps."""
    out = {}
    for name, a, b, categorical in scaler.attribute_fields:
        if not categorical:
            continue
        real_labels = real[:, 0, first + a:first + b].argmax(1)
        synth_labels = synthetic[:, 0, first + a:first + b].argmax(1)
        per_label = {}
        for code, label in enumerate(scaler.categories[name]):
            r, s = lengths(real[real_labels == code]), lengths(synthetic[synth_labels == code])
            if len(r) and len(s):
                per_label[str(label)] = {"real_mean": round(float(r.mean()), 3), "synthetic_mean": round(float(s.mean()), 3),
                                         "w1": round(float(wasserstein_distance(r, s)), 4)}
        out[name] = per_label
    return out


def attribute_distance(real: np.ndarray, synthetic: np.ndarray, fields) -> float:
    """Mean over attributes; `real`, `synthetic`: (n, attribute columns) vectors; `fields`: (start, stop, categorical)."""
    distances = []
    for a, b, categorical in fields:
        if categorical:
            distances.append(0.5 * np.abs(real[:, a:b].mean(0) - synthetic[:, a:b].mean(0)).sum())
        else:
            distances.append(wasserstein_distance(real[:, a], synthetic[:, a]))
    return float(np.mean(distances))
