import math

import pytest
import torch

from rgan.config import RganModelConfig as ModelConfig
from rgan.models import build_models
from rgan.training import losses


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes(cell, bidirectional):
    cfg = ModelConfig(cell=cell, hidden=8, layers=2, z_dim=3, z_global_dim=0, bidirectional_discriminator=bidirectional)
    gen, disc = build_models(cfg, dim=5)
    z = gen.noise(4, 24)
    assert z.shape == (4, 24, 3)
    x = gen(z)
    assert x.shape == (4, 24, 5) and x.min() >= 0 and x.max() <= 1
    assert disc(x).shape == (4, 24)
    # any length: the recurrent generator is not tied to the training seq_len
    assert gen(gen.noise(2, 50)).shape == (2, 50, 5)


def test_bce_losses_at_an_undecided_discriminator():
    zero = torch.zeros(8, 24)
    assert losses.bce_discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert losses.bce_generator_loss(zero).item() == pytest.approx(math.log(2))


def test_gradient_penalty_linear_critic_known_value():
    # critic(x)[b, t] = w . x[b, t]; a sample's score is its mean over T steps, so the gradient is w / T at
    # every step and its norm over the whole sequence is |w| / sqrt(T) = 3 / 2 for |w| = 3, T = 4.
    w = torch.tensor([1.0, 2.0, 2.0])
    real, fake = torch.rand(6, 4, 3), torch.rand(6, 4, 3)
    penalty = losses.gradient_penalty(lambda x: x @ w, real, fake)
    assert penalty.item() == pytest.approx((1.5 - 1) ** 2)


def test_gradient_penalty_uses_interpolates():
    # critic = sum of squares: the gradient 2 x_hat / T depends on where x_hat lies between real and fake.
    real, fake = torch.rand(5, 4, 2), torch.rand(5, 4, 2)
    penalty = losses.gradient_penalty(lambda x: (x**2).sum(-1), real, fake, generator=torch.Generator().manual_seed(3))
    eps = torch.rand(5, 1, 1, generator=torch.Generator().manual_seed(3))
    x_hat = eps * real + (1 - eps) * fake
    expected = (((2 * x_hat / 4).flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)


def test_gradient_penalty_is_differentiable_through_a_recurrent_critic():
    _, disc = build_models(ModelConfig(cell="lstm", hidden=4, layers=1), dim=2)
    penalty = losses.gradient_penalty(disc, torch.rand(3, 6, 2), torch.rand(3, 6, 2))
    penalty.backward()
    # every weight gets a gradient; only the output bias cannot influence d critic / d x
    assert [n for n, p in disc.named_parameters() if p.grad is None] == ["head.bias"]


def test_per_sequence_noise_is_constant_over_time():
    gen, _ = build_models(ModelConfig(hidden=4, layers=1, z_dim=3, z_global_dim=2), dim=2)
    z = gen.noise(5, 10, generator=torch.Generator().manual_seed(0))
    assert z.shape == (5, 10, 5)
    assert torch.equal(z[:, :, 3:], z[:, :1, 3:].expand(5, 10, 2))  # per sequence, repeated
    assert not torch.equal(z[:, 0, :3], z[:, 1, :3])  # per step, fresh
    assert gen(z).shape == (5, 10, 2)


def test_spectral_loss_known_values():
    t = torch.arange(8.0)
    real = torch.rand(32, 8, 2)
    assert losses.spectral_loss(real, real).item() == 0
    assert losses.spectral_loss(real, real.roll(3, dims=1)).item() == pytest.approx(0, abs=1e-6)  # amplitudes ignore a circular shift
    assert losses.spectral_loss(real, real + 0.3).item() == pytest.approx(0.3 / 5, rel=1e-5)  # the constant bin of 5 moves
    slow, fast = (torch.sin(2 * math.pi * k * t / 8).reshape(1, 8, 1).expand(4, 8, 1) for k in (1, 3))
    assert losses.spectral_loss(slow, fast).item() == pytest.approx((0.5 + 0.5) / 5, rel=1e-5)  # half the amplitude at bin 1 vs 3


def test_feature_matching_loss_known_values():
    real = torch.rand(32, 6, 4)
    assert losses.feature_matching_loss(real, real).item() == 0
    assert losses.feature_matching_loss(real, real[torch.randperm(32)]).item() == pytest.approx(0, abs=1e-6)  # batch order: no matter
    assert losses.feature_matching_loss(real, real + 0.3).item() == pytest.approx(0.3, rel=1e-5)  # every mean moved by 0.3
    assert losses.feature_matching_loss(real, real * 2).item() == pytest.approx(real.mean(dim=0).mean().item(), rel=1e-5)
    # padding is read by no one: garbage on masked steps changes nothing, a gap on valid steps counts over them only
    mask = torch.ones(32, 6)
    mask[:, 4:] = 0
    garbage = real.clone()
    garbage[:, 4:] = 9.0
    assert losses.feature_matching_loss(real, garbage, mask).item() == 0
    shifted = real.clone()
    shifted[:, :4] += 0.3
    assert losses.feature_matching_loss(real, shifted, mask).item() == pytest.approx(0.3 * 4 / 6, rel=1e-5)  # 4 of 6 steps valid


def test_moment_loss_known_values():
    real = torch.rand(32, 6, 2)
    assert losses.moment_loss(real, real).item() == 0
    assert losses.moment_loss(real, real + 0.3).item() == pytest.approx(0.3, rel=1e-5)  # mean gap only
    collapsed = real.mean(dim=0, keepdim=True).expand_as(real)  # every sample the same: std gap only
    assert losses.moment_loss(real, collapsed).item() == pytest.approx(real.std(dim=0).mean().item(), rel=1e-5)


def test_a_one_scale_discriminator_is_the_discriminator_it_always_was():
    _, disc = build_models(ModelConfig(hidden=4, layers=1), dim=2)
    assert {k.split(".")[0] for k in disc.state_dict()} == {"rnn", "head"}  # old checkpoints load
    x = torch.rand(3, 10, 2)
    assert torch.equal(disc(x), disc.head(disc.rnn(x)[0]).squeeze(-1))


def test_a_multi_scale_discriminator_judges_each_scale_on_its_own_block_means():
    torch.manual_seed(0)
    _, disc = build_models(ModelConfig(hidden=4, layers=1, discriminator_scales=[1, 4]), dim=2)
    _, one_scale = build_models(ModelConfig(hidden=4, layers=1), dim=2)
    one_scale.load_state_dict({k: v for k, v in disc.state_dict().items() if not k.startswith("coarse.")})
    x = torch.rand(3, 10, 2)  # 10 steps: blocks 0-3, 4-7 and a short last block 8-9
    out = disc(x)
    assert out.shape == (3, 20) and torch.equal(out[:, :10], one_scale(x))  # the per-step scale first, as before
    coarse = out[:, 10:]
    for block in (slice(0, 4), slice(4, 8), slice(8, 10)):
        assert torch.equal(coarse[:, block], coarse[:, block.start:block.start + 1].expand(-1, block.stop - block.start))
    means = torch.stack([x[:, 0:4].mean(1), x[:, 4:8].mean(1), x[:, 8:10].mean(1)], dim=1)
    network = disc.coarse[0]
    assert torch.allclose(coarse[:, ::4], network["head"](network["rnn"](means)[0]).squeeze(-1), atol=1e-6)
    swapped = x.clone()
    swapped[:, [8, 9]] = x[:, [9, 8]]  # the same block mean: only the per-step scale can tell
    assert torch.equal(disc(swapped)[:, 10:], coarse) and not torch.equal(disc(swapped)[:, :10], out[:, :10])
    features = disc.features(x)
    assert features.shape == (3, 10, 8) and torch.equal(disc.read(features), out)


def test_a_mask_applies_to_every_scale_of_the_outputs():
    one, two = torch.randn(4, 6), torch.randn(4, 6)
    mask = (torch.arange(6)[None, :] < torch.tensor([[2], [6], [3], [1]])).float()
    both = torch.cat([one, two], dim=1)
    assert losses.masked_mean(both, mask).item() == pytest.approx(
        (losses.masked_mean(one, mask) + losses.masked_mean(two, mask)).item() / 2, rel=1e-6)
    assert losses.masked_mean(both, None).item() == pytest.approx(both.mean().item())
    w = torch.tensor([1.0, 2.0, 2.0])
    real, fake = torch.rand(4, 6, 3), torch.rand(4, 6, 3)
    gp_one = losses.gradient_penalty(lambda x: x @ w, real, fake, torch.Generator().manual_seed(1), mask)
    gp_two = losses.gradient_penalty(lambda x: torch.cat([x @ w, x @ w], dim=1), real, fake, torch.Generator().manual_seed(1), mask)
    assert gp_two.item() == pytest.approx(gp_one.item(), rel=1e-6)
