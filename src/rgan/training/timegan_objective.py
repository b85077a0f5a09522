"""TimeGAN's objective in its three phases, as in the paper's reference code; train.steps counts all of them:
1. autoencoder: embedder + recovery reconstruct X;
2. supervised: the supervisor predicts the next latent step of embedded real data;
3. joint: generator + supervisor against the discriminator in latent space (plus the supervised and moment
   terms), the embedder keeps reconstructing, the discriminator learns (with BCE only while it is not winning).
Every update clips and reports the gradient norm of all the parameters its optimiser updates.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rgan.config import ModelConfig, TrainConfig
from rgan.models.outputs import Groups
from rgan.models.timegan import TimeGanNetworks, with_condition
from rgan.training import losses
from rgan.training.objective import STEP_VALUES, AdversarialObjective

PHASES = ("autoencoder", "supervised", "joint")
BCE_WINNING = 0.15  # the reference's discriminator loss below which it skips the update


def _supervised_loss(h: torch.Tensor, h_next: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """How well each step's prediction `h_next` matches the next latent; `mask`: only where that next step is valid."""
    if mask is None:
        return F.mse_loss(h_next[:, :-1], h[:, 1:])
    return losses.masked_mean((h_next[:, :-1] - h[:, 1:]).pow(2).mean(dim=-1), mask[:, 1:])


@contextlib.contextmanager
def _frozen(*modules: nn.Module):
    """No weight gradients for `modules` inside the block: they feed the loss but this update leaves them be."""
    for m in modules:
        m.requires_grad_(False)
    try:
        yield
    finally:
        for m in modules:
            m.requires_grad_(True)


def host_reads_are_free(device: torch.device) -> bool:
    """Whether reading a value on the host costs no wait for the device (the CPU); elsewhere steps never read."""
    return device.type == "cpu"


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    params = [p for group in optimizer.param_groups for p in group["params"]]
    return params + [t for p in params for t in optimizer.state.get(p, {}).values() if isinstance(t, torch.Tensor)]


@contextlib.contextmanager
def _undone_unless(keep: torch.Tensor, optimizer: torch.optim.Optimizer):
    """Undo what the block does to `optimizer`'s parameters and state unless `keep` (a 0-dim bool tensor) holds.
    The choice is made on the device, so it needs no host sync: each tensor becomes t * k + before * (1 - k) with k
    0 or 1, exact for finite values, in a few foreach operations. State the block creates is undone to zeros, which
    is where Adam starts it."""
    tensors = _optimizer_tensors(optimizer)
    before = torch._foreach_mul(tensors, 1) if tensors else []  # copies, in one operation
    index = {id(t): i for i, t in enumerate(tensors)}
    yield
    with torch.no_grad():
        after = _optimizer_tensors(optimizer)
        known = [t for t in after if id(t) in index]
        created = [t for t in after if id(t) not in index]
        k = keep.to(torch.float32)
        if known:
            torch._foreach_mul_(known, k)
            torch._foreach_add_(known, torch._foreach_mul([before[index[id(t)]] for t in known], 1 - k))
        if created:
            torch._foreach_mul_(created, k)


class TimeGanObjective(AdversarialObjective):
    extra_log_columns = ["phase", "ae_loss", "sup_loss"]

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device, groups: Groups = (),
                 conditions: int = 0, masked: bool = False):
        super().__init__(train_cfg, device)
        self.conditions, self.masked = conditions, masked
        self.nets = TimeGanNetworks(model_cfg, dim, groups, conditions).to(device)
        n = self.nets
        self.ema = self._average(n.sampler)
        self.ae_opt = self._adam([n.embedder, n.sampler.recovery], train_cfg.g_lr)
        self.sup_opt = self._adam([n.sampler.generator, n.sampler.supervisor], train_cfg.g_lr)
        self.g_opt = self._adam([n.sampler.generator, n.sampler.supervisor], train_cfg.g_lr)
        self.e_opt = self._adam([n.embedder, n.sampler.recovery], train_cfg.g_lr)
        # capturable on CUDA: Adam's step count on the device, so a skipped BCE update is undone there
        self.d_opt = self._adam([n.discriminator], train_cfg.d_lr, capturable=device.type == "cuda")
        self.done = 0  # steps taken: decides the phase, kept in checkpoints

    def phase(self) -> int:
        t = self.cfg.timegan
        if self.done < t.autoencoder_steps:
            return 0
        return 1 if self.done < t.autoencoder_steps + t.supervised_steps else 2

    def step(self, next_batch: Callable[[], torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
        """One step of the current phase; returns detached scalars (no host sync: logging decides when to read)."""
        phase = self.phase()
        self.done += 1
        x = self._real(next_batch)()
        values = (self._autoencoder_step, self._supervised_step, self._joint_step)[phase](x, rng)
        return self._row(phase, values)

    def _autoencoder_step(self, x: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        n = self.nets
        ae = self._reconstruction(n.sampler.recover(n.embedder(x), self._condition(x)), x)
        return {"ae_loss": ae, "g_grad_norm": self._descend(self.ae_opt, 10 * torch.sqrt(ae))}

    def _supervised_step(self, x: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            h = self.nets.embedder(x)
        sup = _supervised_loss(h, self.nets.sampler.supervise(h, self._condition(x)), self._mask(x))
        return {"sup_loss": sup, "g_grad_norm": self._descend(self.sup_opt, sup)}

    def _joint_step(self, x: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        s = self.nets.sampler
        z = self._conditioned(s.noise(x.shape[0], x.shape[1], generator=rng, device=self.device), x)
        values = {**self._generator_update(x, z), **self._embedder_update(x), **self._discriminator_update(x, z, rng)}
        if self.ema is not None:
            self.ema.update_parameters(s)
        return values

    def _generator_update(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Generator + supervisor: fool the discriminator on both latent paths, predict real latents' next step,
        match the data's moments."""
        n, s, t = self.nets, self.nets.sampler, self.cfg.timegan
        c, mask = self._condition(x), self._mask(x)
        with torch.no_grad():
            h = n.embedder(x)
        with _frozen(n.discriminator, s.recovery):
            e_hat = s.generator(z)
            h_hat = s.supervise(e_hat, c)
            sup = _supervised_loss(h, s.supervise(h, c), mask)
            g_loss = self._with_matching_terms(
                self._adversarial_term(n.discriminator, with_condition(h, c), with_condition(h_hat, c), mask)
                + t.gamma * self._generator_adversarial_loss(n.discriminator(with_condition(e_hat, c)), mask)
                + t.supervised_weight * torch.sqrt(sup + 1e-12), x, self._on_valid(s.recover(h_hat, c), x))
            norm = self._descend(self.g_opt, g_loss)
        return {"g_loss": g_loss, "sup_loss": sup, "g_grad_norm": norm}

    def _embedder_update(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embedder + recovery: keep reconstructing, and make latents the supervisor can predict."""
        n, s = self.nets, self.nets.sampler
        c = self._condition(x)
        with _frozen(s.supervisor):
            h = n.embedder(x)
            ae = self._reconstruction(s.recover(h, c), x)
            e_loss = 10 * torch.sqrt(ae) + self.cfg.timegan.embedding_supervised_weight * _supervised_loss(
                h, s.supervise(h, c), self._mask(x))
            self._descend(self.e_opt, e_loss)  # its norm has no log column
        return {"ae_loss": ae}

    def _discriminator_update(self, x: torch.Tensor, z: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """`train.d_steps` updates on real latents against both kinds of generated ones. The latents are made
        after the generator and embedder updates, as in the reference: the discriminator learns what they became."""
        n, s = self.nets, self.nets.sampler
        c = self._condition(x)
        with torch.no_grad():
            h = n.embedder(x)
            e_hat = s.generator(z)
            h_hat = s.supervise(e_hat, c)
        # the discriminator sees the attributes beside each latent (the penalty's interpolates keep them as they are)
        h, h_hat, e_hat = with_condition(h, c), with_condition(h_hat, c), with_condition(e_hat, c)
        for _ in range(self.cfg.d_steps):
            d_loss, gp, real_out, fake_out = self._latent_discriminator_loss(h, h_hat, e_hat, rng, self._mask(x))
            norm = self._discriminator_descend(d_loss)
        return {"d_loss": d_loss, "gp": gp, "d_grad_norm": norm, **self._outputs(real_out, fake_out)}

    def _latent_discriminator_loss(self, h: torch.Tensor, h_hat: torch.Tensor, e_hat: torch.Tensor, rng: torch.Generator,
                                   mask: torch.Tensor | None = None):
        """Real vs supervised latents, plus gamma x real vs raw generator latents; the real outputs computed once.
        Returns the loss, the supervised term's penalty and the real and supervised outputs (what the log shows)."""
        d = self.nets.discriminator
        real_out, sup_out, raw_out = d(h), d(h_hat), d(e_hat)
        d_sup, gp = self._discriminator_loss_of(d, h, h_hat, real_out, sup_out, rng, mask)
        d_raw, _ = self._discriminator_loss_of(d, h, e_hat, real_out, raw_out, rng, mask)
        return d_sup + self.cfg.timegan.gamma * d_raw, gp, real_out, sup_out

    def _discriminator_descend(self, d_loss: torch.Tensor) -> torch.Tensor:
        if self.wasserstein:
            return self._descend(self.d_opt, d_loss)
        # the paper's rule for BCE: update the discriminator only while it is not already winning
        keep = d_loss.detach() > BCE_WINNING
        if host_reads_are_free(keep.device):  # on the CPU a read waits for nothing: skip the update, as the paper does
            return self._descend(self.d_opt, d_loss) if bool(keep) else torch.zeros((), device=self.device)
        with _undone_unless(keep, self.d_opt):  # on a GPU: decided there, the update made and undone when skipped
            norm = self._descend(self.d_opt, d_loss)
        return torch.where(keep, norm, torch.zeros_like(norm))

    def _row(self, phase: int, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every log column; NaN where a value does not apply in this phase."""
        nan = torch.tensor(float("nan"))
        row = {name: values[name].detach() if name in values else nan for name in [*STEP_VALUES, "ae_loss", "sup_loss"]}
        row["phase"] = torch.tensor(float(phase))
        return row

    @property
    def sampling_generator(self) -> torch.nn.Module:
        # the average starts at the joint phase: before it (a run shorter than phases 1 and 2) ship the sampler as is
        averaged = self.ema is not None and self.ema.updates > 0
        return self.ema.module if averaged else self.nets.sampler

    def _parts(self) -> dict:
        return {"networks": self.nets, "ae_optimizer": self.ae_opt, "sup_optimizer": self.sup_opt, "g_optimizer": self.g_opt,
                "e_optimizer": self.e_opt, "d_optimizer": self.d_opt, "sampler_ema": self.ema}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "done": self.done}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.done = int(state["done"])
