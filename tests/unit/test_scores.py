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


# context-FID (rgan.evaluation.context_fid): TS2Vec's loss against a literal transcription of theirs, the Fréchet
# distance on a known answer, and the score's behaviour on identical, same-source, shifted and padded sets.

def _ts2vec_instance_loss(z1, z2):  # ts2vec/models/losses.py, verbatim but for names
    import torch
    import torch.nn.functional as F

    B = z1.size(0)
    z = torch.cat([z1, z2], dim=0).transpose(0, 1)
    sim = torch.matmul(z, z.transpose(1, 2))
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    i = torch.arange(B)
    return (logits[:, i, B + i - 1].mean() + logits[:, B + i, i].mean()) / 2


def _ts2vec_temporal_loss(z1, z2):
    import torch
    import torch.nn.functional as F

    T = z1.size(1)
    if T == 1:
        return z1.new_tensor(0.0)
    z = torch.cat([z1, z2], dim=1)
    sim = torch.matmul(z, z.transpose(1, 2))
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1]
    logits += torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    t = torch.arange(T)
    return (logits[:, t, T + t - 1].mean() + logits[:, T + t, t].mean()) / 2


def _ts2vec_hierarchical_loss(z1, z2, alpha=0.5):
    import torch
    import torch.nn.functional as F

    loss, d = torch.tensor(0.0), 0
    while z1.size(1) > 1:
        loss += alpha * _ts2vec_instance_loss(z1, z2)
        loss += (1 - alpha) * _ts2vec_temporal_loss(z1, z2)
        d += 1
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    if z1.size(1) == 1:
        loss += alpha * _ts2vec_instance_loss(z1, z2)
        d += 1
    return loss / d


@pytest.mark.parametrize("steps", [1, 2, 7, 24])
def test_ts2vec_loss_matches_a_transcription_of_theirs(steps):
    import torch

    from rgan.evaluation import context_fid

    g = torch.Generator().manual_seed(steps)
    z1, z2 = torch.randn(8, steps, 16, generator=g), torch.randn(8, steps, 16, generator=g)
    assert context_fid.hierarchical_contrastive_loss(z1, z2).item() == pytest.approx(_ts2vec_hierarchical_loss(z1, z2).item(), rel=1e-6)


def test_frechet_distance_known_answer():
    from rgan.evaluation import context_fid

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3)) * [1.0, 2.0, 0.5]
    b = rng.normal(size=(4000, 3)) * [1.0, 1.0, 0.5] + [1.0, 0.0, -2.0]
    # diagonal covariances: |mu_a - mu_b|^2 + sum (s_a + s_b - 2 sqrt(s_a s_b)) over the variances s
    var_a, var_b = a.var(axis=0, ddof=1), b.var(axis=0, ddof=1)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + (var_a + var_b - 2 * np.sqrt(var_a * var_b)).sum()
    assert context_fid.frechet_distance(a, b) == pytest.approx(expected, abs=0.02)  # off-diagonal sampling noise
    assert context_fid.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_context_fid_orders_identical_same_source_and_shifted_sets(real):
    from rgan.evaluation import context_fid

    a, b = real
    fit, test = (a[:300], None), (a[300:], None)
    same, shift, far = (b[:300], None), (b[:300] + 0.1, None), (b[:300] + 0.5, None)
    scores = context_fid.context_fids(fit, test, [test, same, shift, far], seed=0, iterations=40)
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] < scores[2] < scores[3]
    assert scores == context_fid.context_fids(fit, test, [test, same, shift, far], seed=0, iterations=40)  # seeded


def test_context_fid_ignores_padding_past_sequence_ends(real):
    from rgan.evaluation import context_fid

    a, b = real
    valid = np.arange(24)[None, :] < np.random.default_rng(0).integers(5, 25, size=(600, 1))
    padded = [(np.where(valid[..., None], w, fill), valid) for w in (a, b) for fill in (0.0, 1e6)]
    scores = [context_fid.context_fids(padded[i], padded[i], [padded[i + 2]], seed=0, iterations=10) for i in (0, 1)]
    assert scores[0] == scores[1] and np.isfinite(scores[0][0])
