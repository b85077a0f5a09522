"""The recurrent-GAN training objective: one generator step after `d_steps` discriminator (critic) steps.

The loop in trainer.py knows nothing of losses; an objective owns its networks and optimisers and
exposes `step`, `state_dict`/`load_state_dict` and the `generator` that sampling uses.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn

from rgan.config import ModelConfig, TrainConfig
from rgan.models import build_models
from rgan.models.outputs import Groups
from rgan.training import losses
from rgan.training.average import WeightAverage

AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # train.precision -> autocast's type
# train.augment's strengths (DiffAugment, Zhao et al. 2020), on values in [0, 1]: small beside the data's spread, as
# the transforms are there to keep the discriminator from memorising windows, not to change what it judges
JITTER_STD = 0.03  # per value
SCALE_STD = 0.1  # per window and feature
# What every kind's step returns (beside its extra_log_columns), as detached tensors.
STEP_VALUES = ["d_loss", "g_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "gp", "g_grad_norm", "d_grad_norm"]


def _grad_norm(optimizer: torch.optim.Optimizer, clip: float | None) -> torch.Tensor:
    """The gradient norm over every parameter `optimizer` updates, clipped to `clip` when set: what a step
    changes is what gets bounded and reported."""
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if clip is not None:
        return nn.utils.clip_grad_norm_(params, clip)
    return nn.utils.get_total_norm([p.grad for p in params])


def _networks(module: nn.Module):
    """The smallest networks of ours inside `module`: those made only of torch layers (what torch.compile gets)."""
    children = list(module.children())
    if children and all(type(c).__module__.startswith("torch.nn") for c in children):
        yield module
        return
    for child in children:
        yield from _networks(child)


class AdversarialObjective:
    """What every kind's objective shares: the discriminator (critic) loss of `train.loss`, the generator's
    adversarial term, a weight average of the shipped network, and the optimiser settings."""

    extra_log_columns: list[str] = []  # per-kind losses in the training log beside the common columns

    def __init__(self, train_cfg: TrainConfig, device: torch.device):
        self.cfg = train_cfg
        self.device = device
        self.wasserstein = train_cfg.loss == "wgan-gp"
        self.amp_dtype = AMP_DTYPES[train_cfg.precision]  # None: full precision
        # fp16 needs its gradients scaled (bf16 has fp32's range); one scaler, updated after every optimiser step
        self.scaler = torch.amp.GradScaler(device.type) if train_cfg.precision == "fp16" else None
        self.conditions = 0  # attribute columns, the data's last: every network sees them at every step
        self.masked = False  # sequences mode: the data's last column is `_valid`, the mask of every loss
        self.augment = tuple(getattr(train_cfg, "augment", ()))  # rgan and vaegan have it; TimeGAN judges latents

    def _mask(self, batch: torch.Tensor) -> torch.Tensor | None:
        """(batch, seq_len): 1 on a sequence's steps, 0 on its padding; None when nothing is padded."""
        return batch[..., -1] if self.masked else None

    def _condition(self, batch: torch.Tensor) -> torch.Tensor | None:
        """The attribute columns of `batch` (its last `conditions`; in sequences mode `_length` and `_valid` too)."""
        return batch[..., -self.conditions:] if self.conditions else None

    def _conditioned(self, z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Noise for a generated batch beside the real batch `like`, followed by `like`'s attributes at every step."""
        return torch.cat([z, like[..., -self.conditions:].to(z.dtype)], dim=-1) if self.conditions else z

    def _on_valid(self, generated: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A generated batch zero on `like`'s padding, as real data is."""
        return generated * like[..., -1:] if self.masked else generated

    def _real(self, next_batch: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        """Real batches, zero on their padding whatever was there: padded steps never reach a network."""
        if not self.masked:
            return next_batch
        return lambda: (lambda real: torch.where(real[..., -1:] > 0, real, torch.zeros_like(real)))(next_batch())

    def _reconstruction(self, rebuilt: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the features (not the attributes, which the networks are given) over valid steps."""
        if not self.conditions and not self.masked:
            return nn.functional.mse_loss(rebuilt, real)  # as it always was, bit for bit
        features = real.shape[-1] - self.conditions
        per_step = (rebuilt[..., :features] - real[..., :features]).pow(2).mean(dim=-1)
        return losses.masked_mean(per_step, self._mask(real))

    def autocast(self):
        """Where the networks run forward: in `train.precision` (the trainer wraps each step in it)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else contextlib.nullcontext()

    def _full_precision(self):
        return torch.autocast(self.device.type, enabled=False) if self.amp_dtype else contextlib.nullcontext()

    def _adam(self, modules: list[nn.Module], lr: float, **options) -> torch.optim.Adam:
        if self.scaler is not None:  # the fused step reads the scaler's inf check on the device: no host sync
            options = {**options, "fused": True}
        return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=lr, betas=tuple(self.cfg.betas), **options)

    def _descend(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
        """One update of `optimizer`'s parameters down `loss`; returns their gradient norm before clipping."""
        optimizer.zero_grad(set_to_none=True)
        with self._full_precision():  # autocast covers the forward passes only
            if self.scaler is None:
                loss.backward()
            else:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(optimizer)  # the norm and the clipping see true gradients
        norm = _grad_norm(optimizer, self.cfg.grad_clip)
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)  # skipped on the device when a gradient overflowed
            self.scaler.update()
        return norm.detach()

    def _average(self, network: nn.Module):
        # GAN weights oscillate around a good solution; the moving average settles there (Yazici et al. 2019).
        return None if self.cfg.ema_decay is None else WeightAverage(network, self.cfg.ema_decay)

    def _augmented(self, batch: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
        """`batch` through `train.augment`'s transforms, drawn from `rng`: DiffAugment (Zhao et al. 2020) applies
        them to real and generated windows in every discriminator pass, the generator's too, and through them the
        generator's gradient flows, so it is not taught the transforms. Features only (attributes, `_length`,
        `_valid` as they are); padding stays zero. Unchanged when off."""
        if not self.augment:
            return batch
        features = batch.shape[-1] - self.conditions
        values = batch[..., :features]
        if "scale" in self.augment:
            values = values * (1 + SCALE_STD * torch.randn(batch.shape[0], 1, features, generator=rng, device=batch.device, dtype=batch.dtype))
        if "jitter" in self.augment:
            values = values + JITTER_STD * torch.randn(values.shape, generator=rng, device=batch.device, dtype=batch.dtype)
        if self.masked:
            values = values * batch[..., -1:]
        return torch.cat([values, batch[..., features:]], dim=-1) if self.conditions else values

    def _discriminator_loss(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator):
        """(loss, gradient penalty, real outputs, fake outputs) for the configured loss, on `train.augment`'s
        transforms of both batches."""
        real, fake = self._augmented(real, rng), self._augmented(fake, rng)
        real_out, fake_out = discriminator(real), discriminator(fake)
        loss, gp = self._discriminator_loss_of(discriminator, real, fake, real_out, fake_out, rng, self._mask(real))
        return loss, gp, real_out, fake_out

    def _discriminator_loss_of(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                               real_out: torch.Tensor, fake_out: torch.Tensor, rng: torch.Generator,
                               mask: torch.Tensor | None):
        """(loss, gradient penalty) from outputs already computed; the penalty needs the inputs too. `mask`: the
        valid steps (None: all)."""
        gp = torch.zeros((), device=self.device)
        if self.wasserstein:
            with self._full_precision():  # a second derivative: in fp32
                gp = losses.gradient_penalty(discriminator, real.float(), fake.float(), generator=rng, mask=mask)
            return losses.critic_loss(real_out, fake_out, mask) + self.cfg.gp_lambda * gp, gp
        return losses.bce_discriminator_loss(real_out, fake_out, mask), gp

    def _discriminator_steps(self, discriminator: nn.Module, optimizer, next_batch: Callable[[], torch.Tensor],
                             fake_from: Callable[[torch.Tensor], torch.Tensor], rng: torch.Generator):
        """`train.d_steps` updates on fresh real batches; returns the last batch, loss, penalty, outputs, grad norm."""
        for _ in range(self.cfg.d_steps):
            real = next_batch()
            with torch.no_grad():
                fake = fake_from(real)
            d_loss, gp, real_out, fake_out = self._discriminator_loss(discriminator, real, fake, rng)
            d_norm = self._descend(optimizer, d_loss)
        return real, d_loss, gp, real_out, fake_out, d_norm

    def _with_matching_terms(self, g_loss: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The generator loss plus the data-matching terms whose weights are set: TimeGAN's moment term and the
        spectral term (every kind adds them to its generator loss; the feature-matching term, which needs the
        discriminator, is part of `_adversarial_term`)."""
        if self.cfg.moment_weight:
            g_loss = g_loss + self.cfg.moment_weight * losses.moment_loss(real, fake)
        if self.cfg.spectral_weight:
            g_loss = g_loss + self.cfg.spectral_weight * losses.spectral_loss(real, fake)
        return g_loss

    def _adversarial_term(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                          mask: torch.Tensor | None, rng: torch.Generator | None = None) -> torch.Tensor:
        """The generator's adversarial loss on `fake`, plus `train.feature_matching_weight` x the feature-matching term
        (Salimans et al. 2016: the discriminator's mean hidden features on `fake` against those on `real`) when that
        weight is set; without it, the discriminator runs on `fake` alone. `mask`: the valid steps; `rng`: the draws
        of `train.augment`'s transforms (rgan, vaegan), which the discriminator sees here as in its own steps."""
        fake = self._augmented(fake, rng)
        if not self.cfg.feature_matching_weight:
            return self._generator_adversarial_loss(discriminator(fake), mask)
        fake_features = discriminator.features(fake)
        with torch.no_grad():  # the real side is the target: no gradient flows through it
            real_features = discriminator.features(self._augmented(real, rng))
        return (self._generator_adversarial_loss(discriminator.read(fake_features), mask)
                + self.cfg.feature_matching_weight * losses.feature_matching_loss(real_features, fake_features, mask))

    def _generator_adversarial_loss(self, fake_out: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return losses.wgan_generator_loss(fake_out, mask) if self.wasserstein else losses.bce_generator_loss(fake_out, mask)

    def _parts(self) -> dict:
        """Name -> network, optimiser or weight average (None when off): what a checkpoint holds."""
        raise NotImplementedError

    def _all_parts(self) -> dict:
        return {**self._parts(), "grad_scaler": self.scaler}

    def state_dict(self) -> dict:
        return {name: part.state_dict() for name, part in self._all_parts().items() if part is not None}

    def load_state_dict(self, state: dict) -> None:
        for name, part in self._all_parts().items():
            if part is not None:
                part.load_state_dict(state[name])

    def compile(self) -> None:
        """`train.compile`: each network's forward through torch.compile (in place: state_dict keys unchanged). The
        weight average stays eager: it only runs when sampling."""
        for part in self._parts().values():
            if isinstance(part, nn.Module) and not isinstance(part, WeightAverage):
                for network in _networks(part):
                    network.compile()

    def _outputs(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the training log shows of the discriminator: its mean output on real and generated data
        (probability for BCE, score for a critic) and its accuracy on each, per sequence (the mean of its
        per-step outputs, thresholded at 0 for BCE; for a critic, at the midpoint of the two means)."""
        real_seq, fake_seq = (o.reshape(o.shape[0], -1).mean(dim=1) for o in (real_out, fake_out))
        if self.wasserstein:
            d_real, d_fake = real_out.mean(), fake_out.mean()
            threshold = (d_real + d_fake) / 2
        else:
            d_real, d_fake = torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean()
            threshold = torch.zeros((), device=real_out.device)
        return {"d_real": d_real.detach(), "d_fake": d_fake.detach(),
                "d_acc_real": (real_seq > threshold).float().mean().detach(),
                "d_acc_fake": (fake_seq <= threshold).float().mean().detach()}


class RecurrentGanObjective(AdversarialObjective):
    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, dim: int, device: torch.device, groups: Groups = (),
                 conditions: int = 0, masked: bool = False):
        super().__init__(train_cfg, device)
        self.conditions = conditions
        self.masked = masked
        self.generator, self.discriminator = (m.to(device) for m in build_models(model_cfg, dim, groups, conditions))
        self.ema = self._average(self.generator)
        self.g_opt = self._adam([self.generator], train_cfg.g_lr)
        self.d_opt = self._adam([self.discriminator], train_cfg.d_lr)

    def _fake(self, like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """A generated batch beside the real batch `like`, on its attributes, zero on its padding."""
        z = self.generator.noise(like.shape[0], like.shape[1], generator=rng, device=self.device)
        return self._on_valid(self.generator(self._conditioned(z, like)), like)

    def step(self, next_batch: Callable[[], torch.Tensor], rng: torch.Generator) -> dict[str, torch.Tensor]:
        """One training iteration; returns detached scalars (no host sync, so logging decides when to read)."""
        real, d_loss, gp, real_out, fake_out, d_norm = self._discriminator_steps(
            self.discriminator, self.d_opt, self._real(next_batch), lambda real: self._fake(real, rng), rng)

        # The discriminator's weight gradients are not needed for the generator step.
        self.discriminator.requires_grad_(False)
        fake_g = self._fake(real, rng)
        g_loss = self._with_matching_terms(self._adversarial_term(self.discriminator, real, fake_g, self._mask(real), rng), real, fake_g)
        g_norm = self._descend(self.g_opt, g_loss)
        self.discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)

        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            **self._outputs(real_out, fake_out),
            "gp": gp.detach(),
            "g_grad_norm": g_norm.detach(),
            "d_grad_norm": d_norm.detach(),
        }

    @property
    def sampling_generator(self) -> nn.Module:
        """The network to ship: the weight average when enabled, else the trained generator."""
        return self.ema.module if self.ema is not None else self.generator

    def _parts(self) -> dict:
        return {"generator": self.generator, "discriminator": self.discriminator, "g_optimizer": self.g_opt,
                "d_optimizer": self.d_opt, "generator_ema": self.ema}
