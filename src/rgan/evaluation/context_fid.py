"""Context-FID (Jeha et al., ICLR 2022; as computed in Diffusion-TS, Yuan & Qiao, ICLR 2024): the Fréchet distance
between the embeddings of real and synthetic windows by a TS2Vec encoder (Yue et al., AAAI 2022) trained on real
windows. Transcribed from TS2Vec's code as Diffusion-TS runs it (`Utils/context_fid.py`: output 320 dimensions,
hidden 64, depth 10, batch 8, learning rate 0.001, 200 iterations, AdamW, the encoder's running average used to
embed, each window embedded by max-pooling over its steps). Deviations, both for sequences of their own length:
padding steps enter the encoder as TS2Vec's missing values (NaN: zeroed, masked) and the pooling takes the valid
steps only; TS2Vec pools over every step.

The trained encoder depends only on the real windows it is fitted on and its seed and iterations, not on any
generator: it is cached (`encoder_for`) beside the evaluation's real-data references, keyed by those windows' bytes,
so a run's validation, its evaluation, a resumed run and every tuning trial on the same data fit it once. It is
always fitted on one thread, so the weights, cached or not, are the same to the bit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

OUTPUT_DIMS, HIDDEN_DIMS, DEPTH = 320, 64, 10
BATCH_SIZE, LEARNING_RATE = 8, 0.001


def iterations_for(windows: np.ndarray) -> int:
    """TS2Vec's default: 200 iterations for up to 100,000 values, 600 above."""
    return 200 if windows.size <= 100_000 else 600


class _SamePadConv(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, dilation: int):
        super().__init__()
        field = 2 * dilation + 1  # kernel 3
        self.conv = nn.Conv1d(channels_in, channels_out, 3, padding=field // 2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # an odd receptive field: nothing to trim


class _ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, dilation: int, final: bool):
        super().__init__()
        self.conv1 = _SamePadConv(channels_in, channels_out, dilation)
        self.conv2 = _SamePadConv(channels_out, channels_out, dilation)
        self.projector = nn.Conv1d(channels_in, channels_out, 1) if channels_in != channels_out or final else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.projector is None else self.projector(x)
        return self.conv2(F.gelu(self.conv1(F.gelu(x)))) + residual


class Encoder(nn.Module):
    """TS2Vec's TSEncoder: a linear input layer, timestamp masking while training, dilated residual convolutions."""

    def __init__(self, input_dims: int):
        super().__init__()
        self.input_fc = nn.Linear(input_dims, HIDDEN_DIMS)
        channels = [HIDDEN_DIMS] * DEPTH + [OUTPUT_DIMS]
        self.feature_extractor = nn.Sequential(*[
            _ConvBlock(channels[i - 1] if i > 0 else HIDDEN_DIMS, channels[i], 2**i, final=i == len(channels) - 1)
            for i in range(len(channels))])
        self.repr_dropout = nn.Dropout(p=0.1)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, steps, dims) with NaN for missing steps; keep: the training mask (binomial, p = 0.5)."""
        present = ~x.isnan().any(dim=-1)
        x = self.input_fc(torch.where(present[..., None], x, 0.0))
        mask = present if keep is None else present & keep
        x = torch.where(mask[..., None], x, 0.0)
        return self.repr_dropout(self.feature_extractor(x.transpose(1, 2))).transpose(1, 2)


def _contrast(z: torch.Tensor, half: int) -> torch.Tensor:
    """TS2Vec's contrastive term over dim 1 of z (two views of `half` items each, concatenated): each item's other
    view against every other item of both views."""
    sim = z @ z.transpose(1, 2)
    logits = torch.tril(sim, diagonal=-1)[:, :, :-1] + torch.triu(sim, diagonal=1)[:, :, 1:]
    logits = -F.log_softmax(logits, dim=-1)
    i = torch.arange(half)
    return (logits[:, i, half + i - 1].mean() + logits[:, half + i, i].mean()) / 2


def hierarchical_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """TS2Vec's loss: instance-wise and temporal contrast at every scale, halving the steps by max-pooling."""
    loss, depth = z1.new_zeros(()), 0
    while z1.size(1) > 1:
        if z1.size(0) > 1:
            loss = loss + alpha * _contrast(torch.cat([z1, z2]).transpose(0, 1), z1.size(0))
        loss = loss + (1 - alpha) * _contrast(torch.cat([z1, z2], dim=1), z1.size(1))
        depth += 1
        z1, z2 = (F.max_pool1d(z.transpose(1, 2), kernel_size=2).transpose(1, 2) for z in (z1, z2))
    if z1.size(1) == 1:
        if z1.size(0) > 1:
            loss = loss + alpha * _contrast(torch.cat([z1, z2]).transpose(0, 1), z1.size(0))
        depth += 1
    return loss / depth


def _take_per_row(x: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    rows = torch.arange(len(x))[:, None]
    return x[rows, torch.as_tensor(starts[:, None] + np.arange(length))]


def fit_encoder(windows: np.ndarray, seed: int, iterations: int | None = None) -> nn.Module:
    """Train TS2Vec's encoder on real windows (NaN where a step is missing) as TS2Vec's `fit` does: epochs of
    shuffled batches of 8 (the last partial batch dropped), two overlapping random crops per batch, the
    hierarchical contrastive loss on their overlap. Returns the running average of the weights (eval mode)."""
    rng = np.random.default_rng(seed)
    iterations = iterations_for(windows) if iterations is None else iterations
    data = torch.tensor(windows, dtype=torch.float32)
    batch = min(BATCH_SIZE, len(data))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = Encoder(windows.shape[2])
        average = torch.optim.swa_utils.AveragedModel(net)
        optimizer = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE)
        steps, done = data.size(1), 0
        while done < iterations:
            order = rng.permutation(len(data))
            for first in range(0, len(order) - batch + 1, batch):
                if done == iterations:
                    break
                x = data[torch.as_tensor(order[first:first + batch])]
                crop = int(rng.integers(2, steps + 1))
                left = int(rng.integers(steps - crop + 1))
                right = left + crop
                extended_left = int(rng.integers(left + 1))
                extended_right = int(rng.integers(right, steps + 1))
                offset = rng.integers(-extended_left, steps - extended_right + 1, size=len(x))
                keep1, keep2 = (torch.as_tensor(rng.binomial(1, 0.5, size=(len(x), n)).astype(bool))
                                for n in (right - extended_left, extended_right - left))
                optimizer.zero_grad()
                out1 = net(_take_per_row(x, offset + extended_left, right - extended_left), keep1)[:, -crop:]
                out2 = net(_take_per_row(x, offset + left, extended_right - left), keep2)[:, :crop]
                hierarchical_contrastive_loss(out1, out2).backward()
                optimizer.step()
                average.update_parameters(net)
                done += 1
    return average.module.eval()  # the running average's weights (AveragedModel keeps them in its module)


ENCODER_FORMAT = "rgan-context-fid-encoder/1"


def _encoder_key(windows: np.ndarray, seed: int, iterations: int) -> str:
    import rgan

    identity = hashlib.sha256()
    for part in (ENCODER_FORMAT, rgan.__version__, torch.__version__, str(windows.dtype), str(windows.shape),
                 str(seed), str(iterations)):
        identity.update(part.encode() + b"\0")
    identity.update(np.ascontiguousarray(windows).tobytes())
    return identity.hexdigest()


def encoder_for(windows: np.ndarray, seed: int, iterations: int | None = None) -> tuple[nn.Module, bool]:
    """`fit_encoder`'s encoder, from the cache when these windows, seed and iterations were fitted before on this
    machine (rgan.evaluation.reference.cache_path; off with RGAN_CACHE_DIR=off); (encoder, True when cached). An entry
    that does not read back is said on stderr and the encoder fitted again; one that cannot be written, likewise."""
    from rgan.atomic import atomic_path
    from rgan.evaluation.parallel import one_thread
    from rgan.evaluation.reference import cache_path, note_not_cached
    from rgan.notes import note

    iterations = iterations_for(windows) if iterations is None else iterations
    key = _encoder_key(windows, seed, iterations)
    path = cache_path("encoders", f"{key}.pt")
    if path is not None and path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("format") != ENCODER_FORMAT or saved.get("key") != key:
                raise ValueError("another format or key")
            with torch.random.fork_rng(devices=[]):  # its initial weights, replaced below: the caller's RNG untouched
                encoder = Encoder(windows.shape[2])
            encoder.load_state_dict(saved["weights"])
            return encoder.eval(), True
        except Exception as exc:  # any damage: fit again, never a wrong encoder
            note(f"cached context-FID encoder {path} ignored ({type(exc).__name__}: {exc}); training it again")
    with one_thread():  # the same weights whatever thread count the caller runs with
        encoder = fit_encoder(windows, seed, iterations)
    if path is not None:
        try:
            with atomic_path(path) as tmp:
                torch.save({"format": ENCODER_FORMAT, "key": key, "weights": encoder.state_dict()}, tmp)
        except OSError as exc:
            note_not_cached("the context-FID encoder", path, exc)
    return encoder, False


@torch.no_grad()
def embed(encoder: nn.Module, windows: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(n, 320): each window's representation max-pooled over its (valid) steps, in batches of 8 as TS2Vec encodes."""
    out = []
    for first in range(0, len(windows), BATCH_SIZE):
        x = torch.tensor(windows[first:first + BATCH_SIZE], dtype=torch.float32)
        z = encoder(x)
        if valid is not None:
            z = torch.where(torch.as_tensor(valid[first:first + BATCH_SIZE])[..., None], z, -torch.inf)
        out.append(z.amax(dim=1).double().numpy())
    return np.concatenate(out)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (rows), as Diffusion-TS's `calculate_fid`."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))


Windows = tuple[np.ndarray, "np.ndarray | None"]  # windows (n, steps, dims), and their valid steps (n, steps) or None


def as_windows(prepared_windows: np.ndarray, sequences: bool) -> Windows:
    """Prepared windows (rgan.data.prepare) as context-FID reads them: in sequences mode without the `_length` and
    `_valid` flags, with their valid steps."""
    if sequences:
        return prepared_windows[..., :-2], prepared_windows[..., -1] > 0.5
    return prepared_windows, None


def _missing_as_nan(windows: Windows) -> np.ndarray:
    values, valid = windows
    return values if valid is None else np.where(valid[..., None], values, np.nan)


class ContextFid:
    """Context-FID against one set of real windows, with one encoder trained on `fit_on` (real windows): fitted
    once, then `score` any number of synthetic sets."""

    def __init__(self, fit_on: Windows, real: Windows, seed: int, iterations: int | None = None):
        self.encoder, self.cached = encoder_for(_missing_as_nan(fit_on), seed, iterations)
        self.reference = embed(self.encoder, _missing_as_nan(real), real[1])

    def score(self, other: Windows) -> float:
        return frechet_distance(self.reference, embed(self.encoder, _missing_as_nan(other), other[1]))


def context_fids(fit_on: Windows, real: Windows, others: list[Windows], seed: int, iterations: int | None = None) -> list[float]:
    """Context-FID of each set in `others` against `real`, with one encoder trained on `fit_on` (real windows).
    Each set is (windows, valid steps or None); the valid steps of sequences of their own length."""
    scorer = ContextFid(fit_on, real, seed, iterations)
    return [scorer.score(other) for other in others]
