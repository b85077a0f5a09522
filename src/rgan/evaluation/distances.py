"""Cheap distribution checks between real and synthetic windows, and the memorization check."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import wasserstein_distance
from sklearn.neighbors import NearestNeighbors


def _steps(windows: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """(steps, columns): every step pooled, or only the valid ones (sequences mode)."""
    flat = windows.reshape(-1, windows.shape[2])
    return flat if valid is None else flat[np.asarray(valid).reshape(-1)]


def marginal_distance(real: np.ndarray, synthetic: np.ndarray, real_valid: np.ndarray | None = None,
                      synthetic_valid: np.ndarray | None = None) -> float:
    """Wasserstein-1 between each feature's marginal distribution (all steps pooled), averaged over features."""
    r, s = _steps(real, real_valid), _steps(synthetic, synthetic_valid)
    return float(np.mean([wasserstein_distance(r[:, f], s[:, f]) for f in range(real.shape[2])]))


def autocorrelation(windows: np.ndarray, lags: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Mean within-window autocorrelation per lag 1..lags and feature: (lags, features).
    Windows with no variance in a feature are left out of that feature's mean. `valid` (n, steps), sequences mode:
    each sequence over its own steps (its mean, its variance, pairs of valid steps); shorter than a lag: left out."""
    lags = min(lags, windows.shape[1] - 1)
    if valid is None:
        centred = windows - windows.mean(axis=1, keepdims=True)
        counts = np.full((len(windows), 1), windows.shape[1])
    else:
        weight = np.asarray(valid, dtype=np.float64)[..., None]
        counts = weight.sum(axis=1)  # (n, 1)
        centred = (windows - (windows * weight).sum(axis=1, keepdims=True) / np.maximum(counts, 1)[:, None]) * weight
    variance = (centred**2).sum(axis=1)  # (n, features)
    out = np.empty((lags, windows.shape[2]))
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature constant in every window: NaN, left out below
        for lag in range(1, lags + 1):
            cov = (centred[:, :-lag] * centred[:, lag:]).sum(axis=1)  # zero past a sequence's end: centred is zero there
            out[lag - 1] = np.nanmean(np.where((variance > 0) & (counts > lag), cov / variance, np.nan), axis=0)
    return out


def autocorrelation_difference(real: np.ndarray, synthetic: np.ndarray, lags: int, real_valid: np.ndarray | None = None,
                               synthetic_valid: np.ndarray | None = None) -> float:
    """Mean absolute difference of the autocorrelation functions over lags 1..k and features."""
    return float(np.nanmean(np.abs(autocorrelation(real, lags, real_valid) - autocorrelation(synthetic, lags, synthetic_valid))))


def memorization_ratio(train: np.ndarray, real_test: np.ndarray, synthetic: np.ndarray) -> float:
    """median NN distance (synthetic -> train) / median NN distance (real test -> train).

    About 1 for a generator that generalises like held-out data; near 0 for one that copies training windows.
    """
    index = NearestNeighbors(n_neighbors=1).fit(train.reshape(len(train), -1))
    synth_d = index.kneighbors(synthetic.reshape(len(synthetic), -1))[0][:, 0]
    test_d = index.kneighbors(real_test.reshape(len(real_test), -1))[0][:, 0]
    return float(np.median(synth_d) / max(np.median(test_d), 1e-12))


def correlational_score(real: np.ndarray, synthetic: np.ndarray, real_valid: np.ndarray | None = None,
                        synthetic_valid: np.ndarray | None = None) -> float:
    """Diffusion-TS's correlational score (Yuan & Qiao, ICLR 2024; `CrossCorrelLoss` in their
    Utils/cross_correlation.py): each set's features standardised over all its windows' (valid) steps (unbiased std),
    the lag-0 cross-correlation of every feature pair, diagonal included, averaged over each window's steps and then
    over windows; the score is the sum over pairs of |synthetic - real|, divided by 10 as theirs is. 0 is best.
    Theirs averages 5 scorings of random fifths of the sets; ours scores the whole sets once per repeat."""
    rows, cols = np.tril_indices(real.shape[2])

    def pairs(windows: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        weight = np.ones(windows.shape[:2]) if valid is None else valid.astype(np.float64)
        steps = windows[weight > 0].astype(np.float64)
        std = steps.std(axis=0, ddof=1)
        z = (windows - steps.mean(axis=0)) / np.where(std > 0, std, 1.0)
        per_window = np.einsum("bti,btj,bt->bij", z, z, weight) / np.maximum(weight.sum(axis=1), 1)[:, None, None]
        return per_window.mean(axis=0)[rows, cols]

    return float(np.abs(pairs(synthetic, synthetic_valid) - pairs(real, real_valid)).sum() / 10)


def _flat(windows: np.ndarray) -> np.ndarray:
    return windows.reshape(len(windows), -1).astype(np.float64)


def _equal_halves(train: np.ndarray, holdout: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """As many training windows as held-out ones (a random subset of the larger set): chance is then one half."""
    rng = np.random.default_rng(seed)
    n = min(len(train), len(holdout))
    return (train[np.sort(rng.choice(len(train), n, replace=False))], holdout[np.sort(rng.choice(len(holdout), n, replace=False))])


def dcr_share(train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> float:
    """Distance to closest record, as a share (the holdout comparison of Platzer & Reutterer 2021, SDMetrics'
    DCRBaselineProtection): of the synthetic windows, the share whose nearest real window (Euclidean) is a training
    one rather than one of an equally large held-out set; a tie counts half. 0.5: no closer to the training data than
    to unseen data from the same source; 1: every synthetic window sits next to a training window (a copier)."""
    train, holdout = _equal_halves(train, holdout, seed)
    flat = _flat(synthetic)
    to_train = NearestNeighbors(n_neighbors=1).fit(_flat(train)).kneighbors(flat)[0][:, 0]
    to_holdout = NearestNeighbors(n_neighbors=1).fit(_flat(holdout)).kneighbors(flat)[0][:, 0]
    return float(np.mean((to_train < to_holdout) + 0.5 * (to_train == to_holdout)))


def membership_auc(train: np.ndarray, holdout: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> float:
    """A membership-inference attack on the synthetic data alone (the distance attack of Hilprecht et al., PoPETs
    2019, nearest-neighbour form; Chen et al., CCS 2020): a real window is guessed a training member the closer its
    nearest synthetic window is. The score is that guess's ROC AUC over training windows (members) and an equally
    large held-out set (non-members): 0.5, membership cannot be told; 1, every member is told apart."""
    from sklearn.metrics import roc_auc_score

    train, holdout = _equal_halves(train, holdout, seed)
    index = NearestNeighbors(n_neighbors=1).fit(_flat(synthetic))
    distances = index.kneighbors(np.concatenate([_flat(train), _flat(holdout)]))[0][:, 0]
    return float(roc_auc_score(np.r_[np.ones(len(train)), np.zeros(len(holdout))], -distances))


def category_frequencies(windows: np.ndarray, groups, valid: np.ndarray | None = None) -> list[np.ndarray]:
    """Each categorical column's share of steps per category (all, or the valid, steps pooled), from its one-hot block."""
    steps = _steps(windows, valid)
    return [steps[:, a:b].mean(axis=0) for a, b in groups]


def category_distance(real: np.ndarray, synthetic: np.ndarray, groups, real_valid: np.ndarray | None = None,
                      synthetic_valid: np.ndarray | None = None) -> float:
    """Total variation between the real and synthetic category frequencies, averaged over categorical columns:
    0 when every category is as frequent as in the real data, 1 when none of the same categories appear."""
    pairs = zip(category_frequencies(real, groups, real_valid), category_frequencies(synthetic, groups, synthetic_valid))
    return float(np.mean([0.5 * np.abs(r - s).sum() for r, s in pairs]))
