"""The recurrent-GAN training objective: one generator step after `d_steps` discriminator (critic) steps.

The loop in trainer.py knows nothing of losses; an objective owns its networks and optimisers and
exposes `step`, `state_dict`/`load_state_dict` and the `generator` that sampling uses.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from rgan.config import ModelConfig, TrainConfig
from rgan.models import build_models
from rgan.training import losses


def _grad_norm(module: nn.Module, clip: float | None) -> torch.Tensor:
    params = [p for p in module.parameters() if p.grad is not None]
    if clip is not None:
        return nn.utils.clip_grad_norm_(params, clip)
    return nn.utils.get_total_norm([p.grad for p in params])


class RecurrentGanObjective:
    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device):
        self.cfg = train_cfg
        self.device = device
        self.generator, self.discriminator = (m.to(device) for m in build_models(model_cfg, dim))
        # GAN weights oscillate around a good solution; the moving average settles there (Yazici et al. 2019).
        self.ema = (
            torch.optim.swa_utils.AveragedModel(
                self.generator, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(train_cfg.ema_decay)
            )
            if train_cfg.ema_decay is not None
            else None
        )
        betas = tuple(train_cfg.betas)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=train_cfg.g_lr, betas=betas)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=train_cfg.d_lr, betas=betas)
        self.wasserstein = train_cfg.loss == "wgan-gp"

    def _noise(self, like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        return self.generator.noise(like.shape[0], like.shape[1], generator=rng, device=self.device)

    def step(self, next_batch: Callable[[], torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
        """One training iteration; returns detached scalars (no host sync, so logging decides when to read)."""
        gp = torch.zeros((), device=self.device)
        for _ in range(self.cfg.d_steps):
            real = next_batch()
            with torch.no_grad():
                fake = self.generator(self._noise(real, rng))
            real_out, fake_out = self.discriminator(real), self.discriminator(fake)
            if self.wasserstein:
                gp = losses.gradient_penalty(self.discriminator, real, fake, generator=rng)
                d_loss = losses.critic_loss(real_out, fake_out) + self.cfg.gp_lambda * gp
            else:
                d_loss = losses.bce_discriminator_loss(real_out, fake_out)
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_norm = _grad_norm(self.discriminator, self.cfg.grad_clip)
            self.d_opt.step()

        # The discriminator's weight gradients are not needed for the generator step.
        self.discriminator.requires_grad_(False)
        fake_g = self.generator(self._noise(real, rng))
        fake_out_g = self.discriminator(fake_g)
        g_loss = losses.wgan_generator_loss(fake_out_g) if self.wasserstein else losses.bce_generator_loss(fake_out_g)
        if self.cfg.moment_weight:
            g_loss = g_loss + self.cfg.moment_weight * losses.moment_loss(real, fake_g)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_norm = _grad_norm(self.generator, self.cfg.grad_clip)
        self.g_opt.step()
        self.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)

        if self.wasserstein:
            d_real, d_fake = real_out.mean(), fake_out.mean()
        else:  # mean probability the discriminator gives real and generated steps
            d_real, d_fake = torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean()
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": d_real.detach(),
            "d_fake": d_fake.detach(),
            "gp": gp.detach(),
            "g_grad_norm": g_norm.detach(),
            "d_grad_norm": d_norm.detach(),
        }

    @property
    def sampling_generator(self) -> nn.Module:
        """The network to ship: the weight average when enabled, else the trained generator."""
        return self.ema.module if self.ema is not None else self.generator

    def state_dict(self) -> dict:
        state = {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "g_optimizer": self.g_opt.state_dict(),
            "d_optimizer": self.d_opt.state_dict(),
        }
        if self.ema is not None:
            state["generator_ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.d_opt.load_state_dict(state["d_optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(state["generator_ema"])
