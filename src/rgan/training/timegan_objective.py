"""TimeGAN's objective in its three phases, as in the paper's reference code; train.steps counts all of them:
1. autoencoder: embedder + recovery reconstruct X;
2. supervised: the supervisor predicts the next latent step of embedded real data;
3. joint: generator + supervisor against the discriminator in latent space (plus the supervised and moment
   terms), the embedder keeps reconstructing, the discriminator learns (with BCE only while it is not winning).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from rgan.config import ModelConfig, TrainConfig
from rgan.models.timegan import TimeGanNetworks
from rgan.training import losses
from rgan.training.objective import AdversarialObjective, _grad_norm

NAN = float("nan")
PHASES = ("autoencoder", "supervised", "joint")


def _supervised_loss(h: torch.Tensor, h_next: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(h_next[:, :-1], h[:, 1:])


class TimeGanObjective(AdversarialObjective):
    extra_log_columns = ["phase", "ae_loss", "sup_loss"]

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device):
        super().__init__(train_cfg, device)
        self.nets = TimeGanNetworks(model_cfg, dim).to(device)
        n = self.nets
        self.ema = self._average(n.sampler)
        self.ae_opt = self._adam([n.embedder, n.sampler.recovery], train_cfg.g_lr)
        self.sup_opt = self._adam([n.sampler.generator, n.sampler.supervisor], train_cfg.g_lr)
        self.g_opt = self._adam([n.sampler.generator, n.sampler.supervisor], train_cfg.g_lr)
        self.e_opt = self._adam([n.embedder, n.sampler.recovery], train_cfg.g_lr)
        self.d_opt = self._adam([n.discriminator], train_cfg.d_lr)
        self.done = 0  # steps taken: decides the phase, kept in checkpoints

    def phase(self) -> int:
        t = self.cfg.timegan
        if self.done < t.autoencoder_steps:
            return 0
        return 1 if self.done < t.autoencoder_steps + t.supervised_steps else 2

    def _row(self, phase: int, **values) -> dict[str, torch.Tensor]:
        names = ["d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "gp", "g_grad_norm", "d_grad_norm", "ae_loss", "sup_loss"]
        row = {name: values[name].detach() if name in values else torch.tensor(NAN) for name in names}
        row["phase"] = torch.tensor(float(phase))
        return row

    def step(self, next_batch: Callable[[], torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
        phase = self.phase()
        self.done += 1
        n, s = self.nets, self.nets.sampler
        x = next_batch()
        if phase == 0:
            ae = F.mse_loss(s.recovery(n.embedder(x)), x)
            self.ae_opt.zero_grad(set_to_none=True)
            (10 * torch.sqrt(ae)).backward()
            norm = _grad_norm(self.ae_opt, self.cfg.grad_clip)
            self.ae_opt.step()
            return self._row(phase, ae_loss=ae, g_grad_norm=norm)
        if phase == 1:
            with torch.no_grad():
                h = n.embedder(x)
            sup = _supervised_loss(h, s.supervisor(h))
            self.sup_opt.zero_grad(set_to_none=True)
            sup.backward()
            norm = _grad_norm(self.sup_opt, self.cfg.grad_clip)
            self.sup_opt.step()
            return self._row(phase, sup_loss=sup, g_grad_norm=norm)

        t = self.cfg.timegan
        z = s.noise(x.shape[0], x.shape[1], generator=rng, device=self.device)
        # generator + supervisor
        n.discriminator.requires_grad_(False)
        h = n.embedder(x).detach()
        e_hat = s.generator(z)
        h_hat = s.supervisor(e_hat)
        x_hat = s.recovery(h_hat)
        sup = _supervised_loss(h, s.supervisor(h))
        g_loss = (self._generator_adversarial_loss(n.discriminator(h_hat))
                  + t.gamma * self._generator_adversarial_loss(n.discriminator(e_hat))
                  + t.supervised_weight * torch.sqrt(sup + 1e-12)
                  + self.cfg.moment_weight * losses.moment_loss(x, x_hat))
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_norm = _grad_norm(self.g_opt, self.cfg.grad_clip)
        self.g_opt.step()
        n.discriminator.requires_grad_(True)
        # embedder + recovery: keep reconstructing, and make latents the supervisor can predict
        h = n.embedder(x)
        ae = F.mse_loss(s.recovery(h), x)
        e_loss = 10 * torch.sqrt(ae) + t.embedding_supervised_weight * _supervised_loss(h, s.supervisor(h))
        self.e_opt.zero_grad(set_to_none=True)
        e_loss.backward()
        _grad_norm(self.e_opt, self.cfg.grad_clip)
        self.e_opt.step()
        # discriminator on real latents vs generated (supervised and raw) latents
        for _ in range(self.cfg.d_steps):
            with torch.no_grad():
                h = n.embedder(x)
                e_hat = s.generator(z)
                h_hat = s.supervisor(e_hat)
            d_sup, gp, real_out, fake_out = self._discriminator_loss(n.discriminator, h, h_hat, rng)
            d_raw, gp_raw, _, _ = self._discriminator_loss(n.discriminator, h, e_hat, rng)
            d_loss = d_sup + t.gamma * d_raw
            # the paper's rule for BCE: train the discriminator only while it is not already winning
            if self.wasserstein or d_loss.item() > 0.15:
                self.d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_norm = _grad_norm(self.d_opt, self.cfg.grad_clip)
                self.d_opt.step()
            else:
                d_norm = torch.zeros((), device=self.device)
        if self.ema is not None:
            self.ema.update_parameters(s)
        return self._row(phase, d_loss=d_loss, g_loss=g_loss, **self._outputs(real_out, fake_out), gp=gp,
                         g_grad_norm=g_norm, d_grad_norm=d_norm, ae_loss=ae, sup_loss=sup)

    @property
    def sampling_generator(self) -> torch.nn.Module:
        # the average starts at the joint phase: before it (a run shorter than phases 1 and 2) ship the sampler as is
        averaged = self.ema is not None and int(self.ema.n_averaged) > 0
        return self.ema.module if averaged else self.nets.sampler

    def _parts(self) -> dict:
        return {"networks": self.nets, "ae_optimizer": self.ae_opt, "sup_optimizer": self.sup_opt, "g_optimizer": self.g_opt,
                "e_optimizer": self.e_opt, "d_optimizer": self.d_opt, "sampler_ema": self.ema}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "done": self.done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.done = int(state["done"])
