"""rgan's training step against a bare PyTorch loop doing the same math, per model kind: what rgan adds per step
(gradient norms, the weight average, batch gathering, log rows, health checks) must stay small.

    python bench/step_overhead.py [--steps 400] [--rounds 5] [--kinds rgan timegan vaegan] [--threads 1]

For each kind, in one process and interleaved over --rounds (shared machines are noisy): `rgan.training.trainer.train`
on the built-in sines with the shipped settings of that kind (no MLflow, no progress bar), and a bare loop written
here with the same networks, losses, optimisers and batch size, and none of the rest. Each side's rate is taken
between its first and last logged step, so setup and the final files are left out. Prints steps/s of both and
the ratio bare / rgan per round and its median; --max-ratio (default 1.05) fails the run when a median passes it.
TimeGAN runs a quarter of the steps in each of its first two phases and the rest jointly, in both loops.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rgan.config import Params, load_params
from rgan.data.prepare import load_prepared, prepare
from rgan.data.sines import write_sines
from rgan.models import build_models
from rgan.models.timegan import TimeGanNetworks
from rgan.models.vaegan import VaeDecoder, VaeEncoder
from rgan.models.recurrent import Discriminator
from rgan.training import losses
from rgan.training.trainer import TrainPaths, train

ROOT = Path(__file__).resolve().parents[1]


def _adam(cfg, lr, *modules):
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=lr, betas=tuple(cfg.betas))


def _update(opt, loss):
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def bare_rgan(params: Params, windows: torch.Tensor, steps: int, tick) -> None:
    m, t = params.model, params.train
    g, d = build_models(m, windows.shape[2])
    g_opt, d_opt = _adam(t, t.g_lr, g), _adam(t, t.d_lr, d)
    for step in range(1, steps + 1):
        for _ in range(t.d_steps):
            real = windows[torch.randint(len(windows), (t.batch_size,))]
            with torch.no_grad():
                fake = g(g.noise(len(real), real.shape[1]))
            _update(d_opt, losses.bce_discriminator_loss(d(real), d(fake)))
        d.requires_grad_(False)
        fake = g(g.noise(len(real), real.shape[1]))
        _update(g_opt, losses.bce_generator_loss(d(fake)) + t.moment_weight * losses.moment_loss(real, fake))
        d.requires_grad_(True)
        tick(step)


def bare_vaegan(params: Params, windows: torch.Tensor, steps: int, tick) -> None:
    m, t, w = params.model, params.train, params.train.vaegan
    enc, dec, d = VaeEncoder(m, windows.shape[2]), VaeDecoder(m, windows.shape[2]), Discriminator(m, windows.shape[2])
    vae_opt, d_opt = _adam(t, t.g_lr, enc, dec), _adam(t, t.d_lr, d)
    for step in range(1, steps + 1):
        for _ in range(t.d_steps):
            real = windows[torch.randint(len(windows), (t.batch_size,))]
            with torch.no_grad():
                fake = dec(dec.noise(len(real), real.shape[1]))
            _update(d_opt, losses.bce_discriminator_loss(d(real), d(fake)))
        d.requires_grad_(False)
        mean, log_var = enc(real)
        recon = F.mse_loss(dec(mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)), real)
        kl = (-0.5 * (1 + log_var - mean.pow(2) - log_var.exp())).sum(-1).mean()
        fake = dec(dec.noise(len(real), real.shape[1]))
        loss = (w.reconstruction_weight * recon + w.kl_weight * kl + w.adversarial_weight * losses.bce_generator_loss(d(fake))
                + t.moment_weight * losses.moment_loss(real, fake))
        _update(vae_opt, loss)
        d.requires_grad_(True)
        tick(step)


def bare_timegan(params: Params, windows: torch.Tensor, steps: int, tick) -> None:
    m, t, ph = params.model, params.train, params.train.timegan
    n = TimeGanNetworks(m, windows.shape[2])
    s = n.sampler
    ae_opt, sup_opt = _adam(t, t.g_lr, n.embedder, s.recovery), _adam(t, t.g_lr, s.generator, s.supervisor)
    g_opt, e_opt = _adam(t, t.g_lr, s.generator, s.supervisor), _adam(t, t.g_lr, n.embedder, s.recovery)
    d_opt = _adam(t, t.d_lr, n.discriminator)

    def sup_loss(h, h_next):
        return F.mse_loss(h_next[:, :-1], h[:, 1:])

    def frozen(flag, *modules):
        for module in modules:
            module.requires_grad_(not flag)

    for step in range(1, steps + 1):
        x = windows[torch.randint(len(windows), (t.batch_size,))]
        if step <= ph.autoencoder_steps:
            _update(ae_opt, 10 * torch.sqrt(F.mse_loss(s.recovery(n.embedder(x)), x)))
        elif step <= ph.autoencoder_steps + ph.supervised_steps:
            with torch.no_grad():
                h = n.embedder(x)
            _update(sup_opt, sup_loss(h, s.supervisor(h)))
        else:
            z = s.noise(len(x), x.shape[1])
            with torch.no_grad():
                h = n.embedder(x)
            frozen(True, n.discriminator, s.recovery)
            e_hat = s.generator(z)
            h_hat = s.supervisor(e_hat)
            g_loss = (losses.bce_generator_loss(n.discriminator(h_hat)) + ph.gamma * losses.bce_generator_loss(n.discriminator(e_hat))
                      + ph.supervised_weight * torch.sqrt(sup_loss(h, s.supervisor(h)) + 1e-12)
                      + t.moment_weight * losses.moment_loss(x, s.recovery(h_hat)))
            _update(g_opt, g_loss)
            frozen(False, n.discriminator, s.recovery)
            frozen(True, s.supervisor)
            h = n.embedder(x)
            _update(e_opt, 10 * torch.sqrt(F.mse_loss(s.recovery(h), x)) + ph.embedding_supervised_weight * sup_loss(h, s.supervisor(h)))
            frozen(False, s.supervisor)
            with torch.no_grad():
                h = n.embedder(x)
                e_hat = s.generator(z)
                h_hat = s.supervisor(e_hat)
            for _ in range(t.d_steps):
                d = n.discriminator
                real_out = d(h)
                d_loss = losses.bce_discriminator_loss(real_out, d(h_hat)) + ph.gamma * losses.bce_discriminator_loss(real_out, d(e_hat))
                if d_loss.item() > 0.15:  # the reference's rule (rgan decides it on the device, without this sync)
                    _update(d_opt, d_loss)
        tick(step)


BARE = {"rgan": bare_rgan, "timegan": bare_timegan, "vaegan": bare_vaegan}


class _Clock:
    """Steps/s between the first and the last logged step."""

    def __init__(self, log_every: int):
        self.log_every, self.first = log_every, None

    def __call__(self, step: int) -> None:
        if step % self.log_every == 0:
            now = time.perf_counter()
            if self.first is None:
                self.first = (step, now)
            self.last = (step, now)

    def rate(self) -> float:
        return (self.last[0] - self.first[0]) / (self.last[1] - self.first[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", choices=sorted(BARE), default=["rgan", "timegan", "vaegan"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both loops (default 1)")
    parser.add_argument("--max-ratio", type=float, default=1.05)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shipped = load_params(ROOT / "params.yaml")
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        data = shipped.data.model_copy(update={"path": str(tmp / "sines.parquet")})
        write_sines(shipped.data.sines, data.path)
        prepare(data, tmp / "prepared")
        prepared = load_prepared(tmp / "prepared")
        windows = torch.from_numpy(prepared.windows("train"))
        for kind in args.kinds:
            params = shipped.for_kind(kind)
            train_cfg = {"steps": args.steps, "device": "cpu", "threads": args.threads, "ema_decay": shipped.train.ema_decay}
            if kind == "timegan":
                train_cfg["timegan"] = {"autoencoder_steps": args.steps // 4, "supervised_steps": args.steps // 4}
            params = params.with_overrides({"train": train_cfg})
            ratios = []
            for round_ in range(args.rounds):
                torch.manual_seed(round_)
                clock, bare_clock = _Clock(params.train.log_every), _Clock(params.train.log_every)
                paths = TrainPaths(tmp / kind / "g.pt", tmp / kind / "ckpt", tmp / kind / "log.tsv", tmp / kind / "m.json")
                sides = [lambda: train(params, tmp / "prepared", paths, progress=False, on_log=lambda row: clock(row["step"])),
                         lambda: BARE[kind](params, windows, args.steps, bare_clock)]
                for side in sides if round_ % 2 == 0 else sides[::-1]:  # each side goes first in every other round
                    side()
                    torch.set_num_threads(args.threads)
                ours, bare = clock.rate(), bare_clock.rate()
                threads = torch.get_num_threads()
                ratios.append(bare / ours)
                print(f"{kind} round {round_ + 1}: rgan {ours:.1f} steps/s, bare loop {bare:.1f} steps/s, ratio {bare / ours:.3f} "
                      f"({threads} thread{'s' if threads > 1 else ''})", flush=True)
            median = statistics.median(ratios)
            print(f"{kind}: median step ratio bare/rgan {median:.3f} over {args.rounds} rounds of {args.steps} steps", flush=True)
            if median > args.max_ratio:
                failed.append(f"{kind}: {median:.3f} > {args.max_ratio}")
    for line in failed:
        print(f"FAIL {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
