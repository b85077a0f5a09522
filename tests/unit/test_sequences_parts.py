"""Sequences mode's parts: pieces and splits of entities, padded gathering, masked losses, and a training step
that padded steps never reach (the padding filled with huge values gives identical losses and gradients)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import tensors_equal, tiny

from rgan.config import parse_params
from rgan.data.sequences import gather_sequences, sequence_pieces, split_sequences
from rgan.errors import RganError
from rgan.training import losses
from rgan.training.kinds import build_objective


def data_cfg(**data):
    return parse_params(tiny(data={"mode": "sequences", "max_len": 5, "min_len": 2, **data})).data


def test_long_entities_split_or_truncate_and_short_ones_go(capsys):
    lengths = np.array([12, 3, 1, 5])  # rows 0-11, 12-14, 15, 16-20
    starts, sizes = sequence_pieces(lengths, data_cfg())
    assert starts.tolist() == [0, 5, 10, 12, 16] and sizes.tolist() == [5, 5, 2, 3, 5]  # 12 -> 5 + 5 + 2; the 1 left out
    assert "split into 3 consecutive sequences" in capsys.readouterr().err
    starts, sizes = sequence_pieces(lengths, data_cfg(long_sequences="truncate", min_len=3))
    assert starts.tolist() == [0, 12, 16] and sizes.tolist() == [5, 3, 5]
    err = capsys.readouterr().err
    assert "7 rows past it left out" in err and "1 of 4 sequences are shorter than data.min_len = 3" in err
    with pytest.raises(RganError, match="no sequence has data.min_len = 6 rows or more"):
        sequence_pieces(np.array([3, 4]), data_cfg(min_len=6, max_len=8))


def test_sequences_are_split_whole_and_reproducibly():
    starts, lengths = np.arange(0, 500, 5), np.full(100, 5)
    (a, la), (b, lb) = split_sequences(starts, lengths, data_cfg()), split_sequences(starts, lengths, data_cfg())
    assert all(np.array_equal(x, y) for x, y in zip(a.as_dict().values(), b.as_dict().values()))
    together = np.sort(np.concatenate(list(a.as_dict().values())))
    assert np.array_equal(together, starts) and len(a.test) == 20 and len(a.val) == 10


def test_gathering_pads_with_zeros_whatever_the_rows_hold():
    series = np.arange(40, dtype=np.float32).reshape(20, 2) + 1
    out = gather_sequences(series, np.array([0, 10]), np.array([3, 5]), 6, length_min=3, length_max=5)
    assert out.shape == (2, 6, 4)
    assert out[0, :3, :2].tolist() == series[:3].tolist() and not out[0, 3:].any()
    assert out[0, :3, 2].tolist() == [0, 0, 0] and out[1, :5, 2].tolist() == [1] * 5  # `_length`, scaled
    assert out[:, :, 3].tolist() == [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]]  # `_valid`
    poisoned = series.copy()
    poisoned[3:10] = 1e30
    assert np.array_equal(gather_sequences(poisoned, np.array([0, 10]), np.array([3, 5]), 6, 3, 5), out)


def test_masked_losses_read_valid_steps_only():
    real, fake = torch.randn(4, 6), torch.randn(4, 6)
    mask = (torch.arange(6)[None, :] < torch.tensor([[2], [6], [3], [1]])).float()
    poisoned_real, poisoned_fake = torch.where(mask > 0, real, 1e6), torch.where(mask > 0, fake, -1e6)
    for loss in (losses.bce_discriminator_loss, losses.critic_loss):
        assert torch.equal(loss(real, fake, mask), loss(poisoned_real, poisoned_fake, mask))
    valid = mask.bool()
    assert torch.allclose(losses.critic_loss(real, fake, mask), fake[valid].mean() - real[valid].mean())


@pytest.mark.parametrize("kind, scales", [("rgan", None), ("timegan", None), ("vaegan", None), ("rgan", [1, 4]), ("vaegan", [1, 2])])
@pytest.mark.parametrize("loss", ["bce", "wgan-gp"])
def test_padding_filled_with_huge_values_changes_no_loss_and_no_gradient(kind, scales, loss):
    params = parse_params(tiny(data={"mode": "sequences"}, train={"loss": loss, "d_steps": 1}))
    if scales is not None:  # a coarse discriminator's means span valid steps and padding, augmentation jitters values:
        # still none reads the padding
        params = params.with_overrides({"model": {"discriminator_scales": scales},
                                        "train": {"feature_matching_weight": 1.0, "augment": ["jitter", "scale"]}})
    if kind != "rgan":
        params = params.for_kind(kind)
        if kind == "timegan":  # straight to the joint phase, where every network and loss takes part
            params = params.with_overrides({"train": {"timegan": {"autoencoder_steps": 0, "supervised_steps": 0}}})
    features, conditions = 3, 2  # + `_length` and `_valid`
    objective = build_objective(params.model, params.train, dim=features + conditions, device=torch.device("cpu"),
                                conditions=conditions, masked=True)
    twin = copy.deepcopy(objective)
    lengths = torch.tensor([2, 6, 4, 1, 5, 6, 3, 6])
    valid = (torch.arange(6)[None, :] < lengths[:, None]).float()
    values = torch.rand(8, 6, features) * valid[..., None]
    batch = torch.cat([values, (valid * lengths[:, None] / 6)[..., None], valid[..., None]], dim=2)
    poisoned = batch.clone()
    poisoned[..., :features] = torch.where(valid[..., None] > 0, batch[..., :features], torch.full_like(values, 1e6))
    for _ in range(2):
        row = objective.step(lambda: batch, torch.Generator().manual_seed(0))
        twin_row = twin.step(lambda: poisoned, torch.Generator().manual_seed(0))
        assert all(torch.equal(row[k], twin_row[k]) for k in ("d_loss", "g_loss", "g_grad_norm", "d_grad_norm"))
        assert torch.isfinite(row["g_loss"]) and torch.isfinite(row["d_loss"])
    assert tensors_equal(objective.state_dict(), twin.state_dict())  # every weight and optimiser moment, to the bit


def test_masked_autocorrelation_reads_each_sequence_over_its_own_steps():
    from rgan.evaluation.distances import autocorrelation

    rng = np.random.default_rng(0)
    windows = rng.normal(size=(40, 12, 2))
    valid = np.arange(12)[None, :] < rng.integers(3, 13, size=40)[:, None]
    assert np.allclose(autocorrelation(windows, 4), autocorrelation(windows, 4, np.ones((40, 12), bool)))
    padded_zero, padded_huge = np.where(valid[..., None], windows, 0.0), np.where(valid[..., None], windows, 1e6)
    assert np.allclose(autocorrelation(padded_zero, 4, valid), autocorrelation(padded_huge, 4, valid))
    shortest = np.where(valid[..., None], windows, 0.0)[:, :3]
    assert np.isfinite(autocorrelation(shortest, 4, valid[:, :3])).all()
