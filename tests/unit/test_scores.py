"""Scores with known answers: autocorrelation against its naive definition, marginal distances, memorization, the
correlational score against a transcription of Diffusion-TS's, distance-to-closest-record share, membership AUC."""

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



def _diffusion_ts_correlational(real: np.ndarray, fake: np.ndarray) -> float:
    """A literal transcription of Diffusion-TS's `cacf_torch` and `CrossCorrelLoss.compute` (Utils/cross_correlation.py,
    github.com/Y-debug-sys/Diffusion-TS): the reference our correlational score follows, on whole sets."""
    import torch

    def cacf_torch(x, max_lag, dim=(0, 1)):
        def get_lower_triangular_indices(n):
            return [list(x) for x in torch.tril_indices(n, n)]

        ind = get_lower_triangular_indices(x.shape[2])
        x = (x - x.mean(dim, keepdims=True)) / x.std(dim, keepdims=True)
        x_l = x[..., ind[0]]
        x_r = x[..., ind[1]]
        cacf_list = list()
        for i in range(max_lag):
            y = x_l[:, i:] * x_r[:, :-i] if i > 0 else x_l * x_r
            cacf_i = torch.mean(y, (1))
            cacf_list.append(cacf_i)
        cacf = torch.cat(cacf_list, 1)
        return cacf.reshape(cacf.shape[0], -1, len(ind[0]))

    x_real, x_fake = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    cross_correl_real = cacf_torch(x_real, 1).mean(0)[0]
    cross_correl_fake = cacf_torch(x_fake, 1).mean(0)[0]
    return (torch.abs(cross_correl_fake - cross_correl_real).sum(0) / 10.).item()


def test_correlational_score_follows_diffusion_ts_and_has_known_answers(real):
    a, b = real
    assert distances.correlational_score(a, a) == 0
    assert distances.correlational_score(a, b) == pytest.approx(_diffusion_ts_correlational(a, b), rel=1e-9)
    # two features moving together against two moving opposite: the cross term differs by 2 (N-1)/N, the rest agrees
    x = np.random.default_rng(0).normal(size=(50, 20, 1))
    together, opposite = np.concatenate([x, x], axis=2), np.concatenate([x, -x], axis=2)
    n = x.size
    assert distances.correlational_score(together, opposite) == pytest.approx(2 * (n - 1) / n / 10)
    # valid steps only: what lies past each sequence's end changes nothing
    valid = np.arange(24)[None, :] < np.random.default_rng(1).integers(5, 25, size=len(a))[:, None]
    poisoned = np.where(valid[..., None], a, 1e6)
    assert distances.correlational_score(a, b, valid, valid) == pytest.approx(distances.correlational_score(poisoned, b, valid, valid))


def test_dcr_share_and_membership_auc_tell_a_copier_from_a_generalising_generator():
    windows = sine_windows(1600, seed=2)
    train, holdout, fresh = windows[:600], windows[600:1200], windows[1200:]
    copier = train[np.random.default_rng(0).integers(0, 600, size=400)]
    assert distances.dcr_share(train, holdout, copier) == 1.0 and distances.membership_auc(train, holdout, train) == 1.0
    assert distances.dcr_share(train, holdout, holdout[:400]) == 0.0 and distances.membership_auc(train, holdout, holdout) == 0.0
    assert 0.4 < distances.dcr_share(train, holdout, fresh) < 0.6 and 0.4 < distances.membership_auc(train, holdout, fresh) < 0.6
    # sets of unequal size: compared on equally many of each, so chance stays one half
    assert 0.4 < distances.dcr_share(train, holdout[:150], fresh) < 0.6
