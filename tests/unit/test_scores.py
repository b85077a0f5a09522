"""Scores with known answers: autocorrelation against its naive definition, marginal distances, memorization."""

import numpy as np
import pytest
from conftest import sine_windows

from rgan.evaluation import distances


@pytest.fixture(scope="module")
def real():
    return sine_windows(600, seed=0), sine_windows(600, seed=1)


def test_autocorrelation_matches_naive_definition():
    x = np.random.default_rng(0).normal(size=(7, 24, 2)).cumsum(axis=1)
    got = distances.autocorrelation(x, lags=3)
    for lag in (1, 2, 3):
        for f in range(2):
            per_window = []
            for w in x[:, :, f]:
                c = w - w.mean()
                per_window.append((c[:-lag] * c[lag:]).sum() / (c**2).sum())
            assert got[lag - 1, f] == pytest.approx(np.mean(per_window))


def test_marginal_distance(real):
    a, _ = real
    assert distances.marginal_distance(a, a) == 0
    assert distances.marginal_distance(a, a + 0.25) == pytest.approx(0.25)


def test_memorization_ratio_flags_a_copying_generator(real):
    a, b = real
    train, test = a[:400], a[400:]
    copies = train[np.random.default_rng(0).integers(0, 400, size=200)]
    assert distances.memorization_ratio(train, test, copies) < 0.05
    assert 0.5 < distances.memorization_ratio(train, test, b[:200]) < 2

