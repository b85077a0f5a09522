"""GAN objectives over per-time-step discriminator outputs (batch, seq_len)."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def bce_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss; a sequence's score is the mean of its per-step outputs."""
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x critic(x_hat)||_2 - 1)^2] on random interpolates x_hat,
    the gradient taken over the whole sequence of each sample."""
    eps = torch.rand(real.shape[0], 1, 1, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    # cuDNN's RNN kernels have no double backward; the penalty needs one, so use the native kernels here.
    with torch.backends.cudnn.flags(enabled=False):
        scores = critic(x_hat).reshape(real.shape[0], -1).mean(dim=1)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def moment_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """TimeGAN's moment term: distance between the batch mean and std of real and generated values, per step
    and feature. It pulls the generator's spread towards the data's, which counters mode collapse."""
    mean_gap = (real.mean(dim=0) - fake.mean(dim=0)).abs().mean()
    std_gap = (real.std(dim=0) - fake.std(dim=0)).abs().mean()
    return mean_gap + std_gap
