"""PNG figures: PCA and t-SNE of real vs synthetic (as in the TimeGAN paper), traces, loss curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from rgan.atomic import atomic_path  # noqa: E402

REAL, SYNTH = "tab:blue", "tab:red"


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _scatter(points_real, points_synth, title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(points_real[:, 0], points_real[:, 1], s=6, alpha=0.4, c=REAL, label="real")
    ax.scatter(points_synth[:, 0], points_synth[:, 1], s=6, alpha=0.4, c=SYNTH, label="synthetic")
    ax.set(title=title, xlabel="x1", ylabel="x2")
    ax.legend()
    _save(fig, path)


def _window_means(windows: np.ndarray) -> np.ndarray:
    return windows.mean(axis=2)  # TimeGAN's visualisation: each window reduced to its per-step mean over features


def tsne_coordinates(real: np.ndarray, synthetic: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE of the real then the synthetic windows (the slow part of the figures: run beside the scoring)."""
    both = np.concatenate([_window_means(real), _window_means(synthetic)])
    return TSNE(n_components=2, perplexity=min(40, len(both) - 1), init="pca", random_state=seed).fit_transform(both)


def embedding_plots(real: np.ndarray, synthetic: np.ndarray, tsne: np.ndarray, out_dir: Path, seed: int) -> None:
    """PCA and t-SNE (from tsne_coordinates) of real vs synthetic windows, as in the TimeGAN paper."""
    r, s = _window_means(real), _window_means(synthetic)
    pca = PCA(n_components=2, random_state=seed).fit(r)
    _scatter(pca.transform(r), pca.transform(s), "PCA: real vs synthetic", out_dir / "pca.png")
    _scatter(tsne[: len(r)], tsne[len(r) :], "t-SNE: real vs synthetic", out_dir / "tsne.png")


def trace_plot(real: np.ndarray, synthetic: np.ndarray, columns: list[str], path: Path, per_kind: int = 5, max_features: int = 8) -> None:
    """A few real and synthetic windows per feature, in original units."""
    shown = columns[:max_features]
    fig, axes = plt.subplots(len(shown), 2, figsize=(9, 1.9 * len(shown)), sharex=True, squeeze=False)
    for f, name in enumerate(shown):
        for col, (data, colour, kind) in enumerate(((real, REAL, "real"), (synthetic, SYNTH, "synthetic"))):
            ax = axes[f, col]
            ax.plot(data[:per_kind, :, f].T, color=colour, alpha=0.7, lw=1)
            ax.set_ylabel(name if col == 0 else "")
            if f == 0:
                ax.set_title(kind)
        lo = min(real[:per_kind, :, f].min(), synthetic[:per_kind, :, f].min())
        hi = max(real[:per_kind, :, f].max(), synthetic[:per_kind, :, f].max())
        for ax in axes[f]:
            ax.set_ylim(lo - 0.05 * (hi - lo + 1e-12), hi + 0.05 * (hi - lo + 1e-12))
    axes[-1, 0].set_xlabel("step")
    axes[-1, 1].set_xlabel("step")
    _save(fig, path)


def loss_plot(train_log: Path, path: Path) -> None:
    log = pd.read_csv(train_log, sep="\t")
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(log["step"], log["d_loss"], label="discriminator")
    ax_loss.plot(log["step"], log["g_loss"], label="generator")
    ax_loss.set(title="losses", xlabel="step")
    ax_loss.legend()
    ax_d.plot(log["step"], log["d_real"], label="D(real)", color=REAL)
    ax_d.plot(log["step"], log["d_fake"], label="D(synthetic)", color=SYNTH)
    ax_d.set(title="discriminator output", xlabel="step")
    ax_d.legend()
    _save(fig, path)
