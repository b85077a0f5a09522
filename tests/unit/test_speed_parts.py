"""The parts that make training, evaluation and sampling faster without changing a number: the host-sync-free weight
average, grouped post-hoc scorings, the real-data reference cache, mixed precision's mechanics, CSV rows printed
as pandas prints them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from rgan.config import EvaluateConfig, RganModelConfig, RganTrainConfig
from rgan.evaluation import posthoc, reference
from rgan.training.average import WeightAverage
from rgan.training.objective import RecurrentGanObjective

CPU = torch.device("cpu")


def _drift(network: nn.Module, step: int) -> None:
    with torch.no_grad():
        for i, p in enumerate(network.parameters()):
            p.add_(torch.sin(torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * (step + i)) * 0.01)


def test_weight_average_is_bit_for_bit_torchs_averaged_model_and_loads_its_state():
    torch.manual_seed(0)
    network = nn.LSTM(3, 5, batch_first=True)
    ours = WeightAverage(network, 0.9)
    torchs = torch.optim.swa_utils.AveragedModel(network, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
    for step in range(6):
        _drift(network, step)
        ours.update_parameters(network)
        torchs.update_parameters(network)
    assert ours.state_dict().keys() == torchs.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), torchs.state_dict().values()))
    resumed = WeightAverage(network, 0.9)
    resumed.load_state_dict(torchs.state_dict())  # a checkpoint written with AveragedModel
    assert resumed.updates == 6
    _drift(network, 9)
    resumed.update_parameters(network)
    torchs.update_parameters(network)
    assert all(torch.equal(a, b) for a, b in zip(resumed.module.parameters(), torchs.module.parameters()))


@pytest.mark.parametrize("shapes", [[(3, 2), (3, 2)], [(3, 2), (2, 1), (4, 3)]])
def test_grouped_members_never_see_each_other(shapes):
    heads = [posthoc._seeded_head(d, h, seed) for seed, (d, h) in enumerate(shapes)]
    group = posthoc.GroupedHeads(heads, CPU)
    width = sum(d for d, _ in shapes)
    assert all(torch.equal(a, b) for i in range(len(heads)) for a, b in zip(group.member(i).parameters(), heads[i].parameters()))
    opt = torch.optim.Adam(group.parameters())
    for _ in range(5):
        opt.zero_grad()
        group(torch.randn(4, 6, width)).pow(2).sum().backward()
        opt.step()
    for name, p in group.named_parameters():
        mask = getattr(group, f"mask_{name.replace('.', '_')}")
        assert torch.count_nonzero(p * (1 - mask)) == 0, name  # the cross-weights stayed exactly zero
    # member 0's output does not depend on the other members' inputs, and equals member 0 alone
    x = torch.randn(2, 6, width)
    y = x.clone()
    y[:, :, shapes[0][0]:] = 100.0
    assert torch.equal(group(x)[:, :, 0], group(y)[:, :, 0])
    assert torch.allclose(group(x)[:, :, 0], group.member(0)(x[:, :, :shapes[0][0]]), atol=1e-6)


STATS = {"sha256": {"series": "a" * 64, "train": "b" * 64}, "seq_len": 24}


def test_reference_key_follows_data_settings_and_device_only(monkeypatch, tmp_path):
    base = reference.key(STATS, EvaluateConfig(), "cpu", 20000)
    assert base == reference.key(json.loads(json.dumps(STATS)), EvaluateConfig(acf_lags=3, plot_samples=50, workers=2), "cpu", 20000)
    changed = [
        reference.key({**STATS, "sha256": {**STATS["sha256"], "series": "c" * 64}}, EvaluateConfig(), "cpu", 20000),
        reference.key(STATS, EvaluateConfig(predictive_iterations=10), "cpu", 20000),
        reference.key(STATS, EvaluateConfig(repeats=2), "cpu", 20000),
        reference.key(STATS, EvaluateConfig(), "cuda", 20000),
        reference.key(STATS, EvaluateConfig(), "cpu", 100),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_reference_cache_round_trip_off_and_damaged_entries(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(reference.ENV, str(tmp_path / "cache"))
    values = {"discriminative_floor": [0.01, 0.02], "predictive_real": [0.18, 0.19]}
    assert reference.load("k1", 2) is None
    reference.store("k1", values)
    assert reference.load("k1", 2) == values
    assert reference.load("k1", 3) is None and "not 3 finite values" in capsys.readouterr().err
    (tmp_path / "cache/references/k2.json").write_text("{not json")
    assert reference.load("k2", 2) is None and "k2.json ignored" in capsys.readouterr().err
    entry = json.loads((tmp_path / "cache/references/k1.json").read_text())
    (tmp_path / "cache/references/k3.json").write_text(json.dumps(entry))  # another key's values
    assert reference.load("k3", 2) is None and "another format or key" in capsys.readouterr().err
    monkeypatch.setenv(reference.ENV, "off")
    assert reference.cache_dir() is None and reference.load("k1", 2) is None
    reference.store("k9", values)  # nothing written, nothing said
    assert not (tmp_path / "cache/references/k9.json").exists() and capsys.readouterr().err == ""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(reference.ENV, str(tmp_path / "file"))  # a file where a folder should be
    reference.store("k1", values)
    assert "is not cached" in capsys.readouterr().err


def test_mixed_precision_mechanics_scale_and_step_without_host_syncs():
    """fp16's autocast and gradient scaling, run on the CPU with GRU cells (oneDNN has a reduced-precision GRU here,
    not an LSTM): losses finite, weights moved, the scaler's state in the checkpoint."""
    torch.manual_seed(0)
    model = RganModelConfig(cell="gru", hidden=8, z_dim=2, z_global_dim=2)
    objective = RecurrentGanObjective(model, RganTrainConfig(precision="fp16", d_steps=1, ema_decay=None, grad_clip=1.0), 3, CPU)
    assert all(group.get("fused") for group in objective.g_opt.param_groups)
    before = [p.detach().clone() for p in objective.generator.parameters()]
    real = torch.rand(16, 6, 3)
    rng = torch.Generator().manual_seed(0)
    for _ in range(8):  # the first updates may overflow at the initial scale of 65536 and be skipped
        with objective.autocast():
            out = objective.step(lambda: real, rng)
    # an overflowing fp16 gradient skips that update (its norm reads NaN, the scale halves); the losses stay finite
    assert all(torch.isfinite(out[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert any(not torch.equal(a, b) for a, b in zip(before, objective.generator.parameters()))
    state = objective.state_dict()
    assert "scale" in state["grad_scaler"]
    again = RecurrentGanObjective(model, RganTrainConfig(precision="fp16", d_steps=1, ema_decay=None, grad_clip=1.0), 3, CPU)
    again.load_state_dict(state)
    assert again.scaler.get_scale() == objective.scaler.get_scale()


def test_the_context_fid_encoder_is_cached_by_its_windows_and_the_same_to_the_bit(monkeypatch, tmp_path, capsys):
    """The encoder depends only on the real windows it is fitted on, its seed and iterations: fitted once, read back
    with the same weights (so every score is the same cached or not), on one thread whatever the caller's."""
    from conftest import sine_windows

    from rgan.evaluation import context_fid

    windows, other = sine_windows(64, seed=0).astype(np.float32), sine_windows(64, seed=1).astype(np.float32)

    def weights(encoder):
        return {k: v.clone() for k, v in encoder.state_dict().items()}

    monkeypatch.setenv(reference.ENV, "off")
    fresh, cached = context_fid.encoder_for(windows, seed=0, iterations=6)
    assert not cached and not (tmp_path / "cache").exists()
    monkeypatch.setenv(reference.ENV, str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # a caller on two threads fits the same weights
    try:
        first, cached_first = context_fid.encoder_for(windows, seed=0, iterations=6)
    finally:
        torch.set_num_threads(threads)
    rng = torch.get_rng_state()
    second, cached_second = context_fid.encoder_for(windows, seed=0, iterations=6)
    assert torch.equal(rng, torch.get_rng_state())  # reading it back draws nothing from the caller's RNG
    assert (cached_first, cached_second) == (False, True)
    for encoder in (first, second):
        assert all(torch.equal(a, b) for a, b in zip(weights(fresh).values(), weights(encoder).values()))
        assert not encoder.training
    assert np.array_equal(context_fid.embed(fresh, other), context_fid.embed(second, other))
    assert len(list((tmp_path / "cache/encoders").glob("*.pt"))) == 1
    # another seed, iteration count or window set is another entry
    for kwargs in (dict(seed=1, iterations=6), dict(seed=0, iterations=7)):
        assert context_fid.encoder_for(windows, **kwargs)[1] is False
    assert context_fid.encoder_for(other, seed=0, iterations=6)[1] is False
    assert len(list((tmp_path / "cache/encoders").glob("*.pt"))) == 4
    # a damaged entry: said, fitted again, replaced
    entry = tmp_path / "cache/encoders" / f"{context_fid._encoder_key(windows, 0, 6)}.pt"
    entry.write_bytes(b"not a torch file")
    capsys.readouterr()
    again, cached = context_fid.encoder_for(windows, seed=0, iterations=6)
    assert not cached and f"{entry.name} ignored" in capsys.readouterr().err
    assert all(torch.equal(a, b) for a, b in zip(weights(fresh).values(), weights(again).values()))
    assert context_fid.encoder_for(windows, seed=0, iterations=6)[1]
    # a cache that cannot be written: said, and the encoder fitted all the same
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(reference.ENV, str(tmp_path / "file"))
    unwritten, cached = context_fid.encoder_for(windows, seed=0, iterations=6)
    assert not cached and "the context-FID encoder is not cached" in capsys.readouterr().err
    assert all(torch.equal(a, b) for a, b in zip(weights(fresh).values(), weights(unwritten).values()))
