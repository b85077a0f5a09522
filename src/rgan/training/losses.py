"""GAN objectives over per-time-step discriminator outputs (batch, seq_len; k x seq_len for k scales)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


# `mask` (batch, seq_len), sequences mode: 1 on a sequence's steps, 0 on its padding, which no loss reads. Outputs
# may be (batch, k x seq_len): k per step, one seq_len after the other (a multi-scale discriminator's scales).


def _tiled(mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """`mask` repeated for each of the k seq_len-long parts of `values` (batch, k x seq_len)."""
    return mask if values.shape[1] == mask.shape[1] else mask.repeat(1, values.shape[1] // mask.shape[1])


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The mean of `values` (batch, seq_len or k x seq_len) over valid steps."""
    if mask is None:
        return values.mean()
    mask = _tiled(mask, values)
    return (values * mask).sum() / mask.sum()


def _bce(logits: torch.Tensor, target: float, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:  # as it always was, bit for bit
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))
    return masked_mean(F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none"), mask)


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return _bce(real_logits, 1.0, mask) + _bce(fake_logits, 0.0, mask)


def bce_generator_loss(fake_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))."""
    return _bce(fake_logits, 1.0, mask)


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Wasserstein critic loss; a sequence's score is the mean of its per-step outputs."""
    return masked_mean(fake_scores, mask) - masked_mean(real_scores, mask)


def wgan_generator_loss(fake_scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return -masked_mean(fake_scores, mask)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x critic(x_hat)||_2 - 1)^2] on random interpolates x_hat,
    the gradient taken over the whole sequence of each sample (of its score: the mean over its valid steps)."""
    eps = torch.rand(real.shape[0], 1, 1, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    # cuDNN's RNN kernels have no double backward; the penalty needs one, so use the native kernels here.
    with torch.backends.cudnn.flags(enabled=False):
        out = critic(x_hat).reshape(real.shape[0], -1)
        if mask is not None:
            mask = _tiled(mask, out)
        scores = out.mean(dim=1) if mask is None else (out * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def moment_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """TimeGAN's moment term: distance between the batch mean and std of real and generated values, per step
    and feature. It pulls the generator's spread towards the data's, which counters mode collapse."""
    mean_gap = (real.mean(dim=0) - fake.mean(dim=0)).abs().mean()
    std_gap = (real.std(dim=0) - fake.std(dim=0)).abs().mean()
    return mean_gap + std_gap


def spectral_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Distance between the batch-mean amplitude spectra (FFT over time, per feature) of real and generated
    windows. Where the moment term matches each step's spread, this matches how values move over time (the mix of
    frequencies in the batch), which a per-step discriminator learns late. Padding is zero on both sides."""
    real_amplitude = torch.fft.rfft(real, dim=1, norm="forward").abs().mean(dim=0)
    fake_amplitude = torch.fft.rfft(fake, dim=1, norm="forward").abs().mean(dim=0)
    return (real_amplitude - fake_amplitude).abs().mean()


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016, "Improved techniques for training GANs"): distance between the batch
    means of the discriminator's hidden features (batch, seq_len, units) on real and generated windows, per step
    and unit (mean absolute gap, as the moment term). The generator is pulled towards the statistics the
    discriminator finds useful, not only towards what fools its last layer. `mask`: the valid steps."""
    if mask is None:
        real_mean, fake_mean = real_features.mean(dim=0), fake_features.mean(dim=0)
    else:
        weights = mask.unsqueeze(-1)
        count = weights.sum(dim=0).clamp(min=1)
        real_mean, fake_mean = (real_features * weights).sum(dim=0) / count, (fake_features * weights).sum(dim=0) / count
    return (real_mean - fake_mean).abs().mean()
