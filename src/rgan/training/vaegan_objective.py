"""The recurrent VAE-GAN objective: the discriminator (critic) step, then encoder + decoder on reconstruction,
KL to the N(0, I) prior and the adversarial (and moment) terms of decoded prior samples."""

from __future__ import annotations

from typing import Callable

import torch

from rgan.config import ModelConfig, TrainConfig
from rgan.models.outputs import Groups
from rgan.models.recurrent import Discriminator
from rgan.models.vaegan import VaeDecoder, VaeEncoder
from rgan.training import losses
from rgan.training.objective import AdversarialObjective


class VaeGanObjective(AdversarialObjective):
    extra_log_columns = ["recon_loss", "kl_loss"]

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device, groups: Groups = (),
                 conditions: int = 0, masked: bool = False):
        super().__init__(train_cfg, device)
        self.conditions, self.masked = conditions, masked
        self.encoder = VaeEncoder(model_cfg, dim).to(device)
        self.decoder = VaeDecoder(model_cfg, dim - conditions, groups, conditions).to(device)
        self.discriminator = Discriminator(model_cfg, dim).to(device)
        self.ema = self._average(self.decoder)
        self.vae_opt = self._adam([self.encoder, self.decoder], train_cfg.g_lr)
        self.d_opt = self._adam([self.discriminator], train_cfg.d_lr)

    def _decoded(self, latent: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """`latent` decoded on the attributes of the real batch `like`, zero on its padding."""
        return self._on_valid(self.decoder(self._conditioned(latent, like)), like)

    def _prior(self, like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        return self.decoder.noise(like.shape[0], like.shape[1], generator=rng, device=self.device)

    def step(self, next_batch: Callable[[], torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
        w = self.cfg.vaegan
        real, d_loss, gp, real_out, fake_out, d_norm = self._discriminator_steps(
            self.discriminator, self.d_opt, self._real(next_batch), lambda real: self._decoded(self._prior(real, rng), real), rng)

        self.discriminator.requires_grad_(False)
        mask = self._mask(real)
        mean, log_var = self.encoder(real)
        eps = torch.randn(mean.shape, generator=rng, device=self.device)
        recon = self._reconstruction(self._decoded(mean + torch.exp(0.5 * log_var) * eps, real), real)
        kl = losses.masked_mean((-0.5 * (1 + log_var - mean.pow(2) - log_var.exp())).sum(-1), mask)
        fake_g = self._decoded(self._prior(real, rng), real)
        adv = self._adversarial_term(self.discriminator, real, fake_g, mask, rng)
        g_loss = self._with_matching_terms(w.reconstruction_weight * recon + w.kl_weight * kl + w.adversarial_weight * adv, real, fake_g)
        g_norm = self._descend(self.vae_opt, g_loss)  # encoder and decoder: both clipped, both in the norm
        self.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update_parameters(self.decoder)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), **self._outputs(real_out, fake_out),
                "gp": gp.detach(), "g_grad_norm": g_norm.detach(), "d_grad_norm": d_norm.detach(),
                "recon_loss": recon.detach(), "kl_loss": kl.detach()}

    @property
    def sampling_generator(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.decoder

    def _parts(self) -> dict:
        return {"encoder": self.encoder, "decoder": self.decoder, "discriminator": self.discriminator,
                "vae_optimizer": self.vae_opt, "d_optimizer": self.d_opt, "decoder_ema": self.ema}
