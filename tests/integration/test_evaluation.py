"""The post-hoc classifier scores on real data, and the evaluate stage through the CLI: metrics, plots, refusals,
workers."""

import json

import numpy as np
import pytest
import torch
from conftest import run, sine_windows

from rgan.evaluation import posthoc

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def real():
    return sine_windows(600, seed=0), sine_windows(600, seed=1)


def test_discriminative_score_separates_noise_from_data(real):
    a, b = real
    noise = np.random.default_rng(0).uniform(size=a.shape).astype(np.float32)
    assert posthoc.discriminative_score(a, noise, iterations=1000, batch_size=64, seed=0, device=CPU) > 0.3
    assert posthoc.discriminative_score(a, b, iterations=300, batch_size=64, seed=0, device=CPU) < 0.1


def test_predictive_score_prefers_real_training_data(real):
    a, b = real
    noise = np.random.default_rng(0).uniform(size=a.shape).astype(np.float32)
    on_real = posthoc.predictive_score(a, b, iterations=400, batch_size=64, seed=0, device=CPU)
    on_noise = posthoc.predictive_score(noise, b, iterations=400, batch_size=64, seed=0, device=CPU)
    assert on_real < on_noise


def test_evaluate_stage_writes_metrics_and_plots(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    code, err = run("evaluate", "--no-mlflow", cwd=workdir)
    assert code == 0, err
    metrics = json.loads((workdir / "metrics/eval.json").read_text())
    for name in ("discriminative", "predictive", "predictive_real", "marginal_w1", "autocorr_diff", "memorization_ratio",
                 "correlational", "context_fid", "context_fid_floor", "dcr_share", "membership_auc"):
        assert set(metrics[name]) == {"mean", "std"} and np.isfinite(metrics[name]["mean"])
    assert 0 <= metrics["dcr_share"]["mean"] <= 1 and 0 <= metrics["membership_auc"]["mean"] <= 1
    assert metrics["repeats"] == 2 and metrics["windows"] == 60
    assert isinstance(metrics["memorization_pass"], bool)
    for png in ("pca.png", "tsne.png", "traces.png", "losses.png"):
        assert (workdir / "plots" / png).read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_a_generator_for_other_data(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    from conftest import tiny, write_params

    write_params(workdir / "params.yaml", tiny(data={"sines": {"n_sequences": 300, "length": 24, "dim": 4, "seed": 0}}))
    assert run("make-sines", cwd=workdir)[0] == 0 and run("prepare", cwd=workdir)[0] == 0
    code, err = run("evaluate", "--no-mlflow", cwd=workdir)
    assert code != 0 and "retrain first" in err
    assert not (workdir / "metrics/eval.json").exists()


def test_scores_do_not_depend_on_the_number_of_workers(workdir):
    from conftest import tiny, write_params

    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    results = []
    for workers in (1, 2):
        write_params(workdir / "params.yaml", tiny(evaluate={"workers": workers}))
        code, err = run("evaluate", "--no-mlflow", cwd=workdir)
        assert code == 0 and f"{workers} processes of 1 thread" in err  # the processes used, reported
        results.append(json.loads((workdir / "metrics/eval.json").read_text()))
    assert results[0] == results[1] and "workers" not in results[0]  # the file does not depend on the machine



def test_the_real_data_reference_is_computed_once_and_changes_no_score(workdir, monkeypatch, tmp_path):
    monkeypatch.setenv("RGAN_CACHE_DIR", str(tmp_path / "cache"))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    seen = []
    for expected in ("computed", "cached"):
        code, err = run("evaluate", "--no-mlflow", cwd=workdir)
        assert code == 0 and f"real-data reference {expected}" in err, err
        seen.append((workdir / "metrics/eval.json").read_bytes())
    assert seen[0] == seen[1]
    assert len(list((tmp_path / "cache/references").glob("*.json"))) == 1
    # other evaluate settings the references read: computed afresh; settings they do not read: still cached
    from conftest import tiny, write_params

    write_params(workdir / "params.yaml", tiny(evaluate={"acf_lags": 3}))
    assert "real-data reference cached" in run("evaluate", "--no-mlflow", cwd=workdir)[1]
    write_params(workdir / "params.yaml", tiny(evaluate={"predictive_iterations": 21}))
    assert "real-data reference computed" in run("evaluate", "--no-mlflow", cwd=workdir)[1]


def test_windows_made_elsewhere_are_scored_as_a_generator_and_a_copier_is_caught(workdir, tiny_params):
    """The benchmark scores a peer library's windows through the same evaluate: here a "peer" that copies the
    training windows. Copies sit at distance 0 from their training windows (memorization 0, fails the check) and
    nearer the training windows than the held-out ones (DCR share and membership AUC well above one half, though
    below 1: those scores compare a random subset of training windows as large as the held-out set); a draw larger
    than the windows given, or one asked for attributes, is refused."""
    from rgan.data.prepare import load_prepared
    from rgan.errors import RganError
    from rgan.evaluation.evaluate import MadeElsewhere, evaluate

    prepared = load_prepared(workdir / "data/prepared")
    copies = MadeElsewhere(prepared.windows("train"), prepared.columns, prepared.seq_len)
    metrics = evaluate(tiny_params, workdir / "data/prepared", copies, workdir / "copier.json", plots_dir=None, progress=False)
    assert metrics["memorization_ratio"]["mean"] == 0 and metrics["memorization_pass"] is False
    assert metrics["dcr_share"]["mean"] > 0.6 and metrics["membership_auc"]["mean"] > 0.6, metrics
    assert json.loads((workdir / "copier.json").read_text())["context_fid"] == metrics["context_fid"]
    with pytest.raises(RganError, match="61 synthetic windows are needed per repeat, 60 were given"):
        MadeElsewhere(prepared.windows("train")[:60], prepared.columns, prepared.seq_len).sample_scaled(61, seed=0)
    with pytest.raises(RganError, match="cannot be drawn for given attributes"):
        copies.sample_scaled(2, seed=0, vectors=np.zeros((2, 1)))


def test_real_windows_all_scores_against_every_window_of_the_data(workdir):
    """evaluate.real_windows: all (the TimeGAN reference code's protocol): the fidelity scores' real side is every
    window of every split, in the order of the series; the privacy scores keep the held-out windows."""
    from conftest import tiny, write_params

    from rgan.data.prepare import ALL_WINDOWS, SPLITS, load_prepared

    prepared = load_prepared(workdir / "data/prepared")
    every = prepared.windows(ALL_WINDOWS)
    assert len(every) == sum(len(prepared.starts[s]) for s in SPLITS) > len(prepared.windows("test"))
    assert [prepared.count(s) for s in (ALL_WINDOWS, "test")] == [len(every), len(prepared.windows("test"))]
    assert sorted(w.tobytes() for w in every) == sorted(w.tobytes() for s in SPLITS for w in prepared.windows(s))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    metrics = {}
    for real_windows in ("test", "all"):
        write_params(workdir / "params.yaml", tiny(evaluate={"real_windows": real_windows}))
        code, err = run("evaluate", "--no-mlflow", "--no-plots", cwd=workdir)
        assert code == 0, err
        metrics[real_windows] = json.loads((workdir / "metrics/eval.json").read_text())
    assert metrics["test"]["windows"] == len(prepared.windows("test")) and metrics["all"]["windows"] == len(every)
    assert metrics["all"]["marginal_w1"] != metrics["test"]["marginal_w1"] and metrics["all"]["predictive"] != metrics["test"]["predictive"]


def test_no_plots_scores_only(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    code, err = run("evaluate", "--no-mlflow", "--no-plots", cwd=workdir)
    assert code == 0, err
    assert (workdir / "metrics/eval.json").is_file() and not (workdir / "plots").exists()


def _windows(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(24)[None, :, None]
    return ((np.sin(rng.uniform(0.1, 0.5, (n, 1, dim)) * t + rng.uniform(0, 3, (n, 1, dim))) + 1) / 2 + shift).astype(np.float32)


@pytest.mark.parametrize("dim", [1, 5])
def test_a_grouped_scoring_gives_each_member_its_score_alone(dim):
    real = _windows(120, dim, 0)
    others = [_windows(100, dim, 1), _windows(110, dim, 2, shift=0.6), _windows(90, dim, 3)]
    seeds = [4, 5, 4]
    grouped = posthoc.predictive_scores(others, real, 40, 16, seeds, CPU)
    alone = [posthoc.predictive_score(o, real, 40, 16, s, CPU) for o, s in zip(others, seeds)]
    assert grouped == pytest.approx(alone, abs=1e-6)
    grouped = posthoc.discriminative_scores(real, others, 300, 16, seeds, CPU)
    alone = [posthoc.discriminative_score(real, o, 300, 16, s, CPU) for o, s in zip(others, seeds)]
    assert grouped == pytest.approx(alone, abs=0.02)  # an accuracy: a rounding may move one window across 0
    assert grouped[1] > max(0.1, 2 * max(grouped[0], grouped[2]))  # the shifted set is told apart best


def test_classifiers_and_forecasters_trained_together_score_as_apart():
    """One grouped training of members of both kinds, different widths and iteration counts: each member's score is
    the one it gets in its own kind's group (a forecaster's padded rows and step never reach its loss)."""
    real = _windows(120, 3, 0)
    others = [_windows(100, 3, 1), _windows(110, 3, 2, shift=0.6)]
    together = posthoc.scores_together([("discriminative", (real, others, 60, 16, [4, 5]), {}),
                                        ("predictive", (others, real, 90, 16, [4, 5]), {})], CPU)
    apart = [posthoc.discriminative_scores(real, others, 60, 16, [4, 5], CPU), posthoc.predictive_scores(others, real, 90, 16, [4, 5], CPU)]
    assert together[0] == pytest.approx(apart[0], abs=0.02) and together[1] == pytest.approx(apart[1], abs=1e-6)
