"""The GPU path, where CUDA is present (skipped elsewhere, saying why): every kind trains a few steps on the GPU in
each precision with no host sync inside a step, resumes, samples; the same generator file gives the same sequences
on the GPU and the CPU, and a GPU-trained and a CPU-trained generator agree statistically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny, write_params

from rgan.config import load_params
from rgan.data.prepare import load_prepared, prepare
from rgan.data.sines import write_sines
from rgan.evaluation.distances import marginal_distance
from rgan.sampling import load_generator
from rgan.training.kinds import build_objective
from rgan.training.trainer import TrainPaths, _BatchSampler, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU smoke test runs where one is")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gpu")
    params = load_params(write_params(root / "params.yaml", tiny(data={"path": str(root / "sines.parquet"),
                                                                       "sines": {"n_sequences": 600, "length": 24, "dim": 3, "seed": 0}})))
    write_sines(params.data.sines, params.data.path)
    prepare(params.data, root / "prepared")
    return root, root / "prepared"


def _params(root: Path, kind: str, device: str, **train):
    params = load_params(root / "params.yaml").for_kind(kind)
    phases = {"timegan": {"autoencoder_steps": 10, "supervised_steps": 10}} if kind == "timegan" else {}
    return params.with_overrides({"train": {"steps": 40, "device": device, "log_every": 20, "checkpoint_every": 20, **phases, **train}})


def _paths(folder: Path) -> TrainPaths:
    return TrainPaths(folder / "g.pt", folder / "ckpt", folder / "log.tsv", folder / "m.json")


@pytest.mark.parametrize("kind", ["rgan", "timegan", "vaegan"])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_each_kind_trains_on_the_gpu_without_host_syncs_and_resumes(prepared, tmp_path, kind, precision):
    root, data = prepared
    params = _params(root, kind, "cuda", precision=precision)
    device = torch.device("cuda")
    objective = build_objective(params.model, params.train, 3, device)
    sampler = _BatchSampler(load_prepared(data), params.train.batch_size, device, seed=0)
    rng = torch.Generator(device=device).manual_seed(1)
    torch.cuda.set_sync_debug_mode("error")  # any step that waits for the device raises (logging reads values, steps never)
    try:
        for _ in range(30):  # all three of TimeGAN's phases
            with objective.autocast():
                out = objective.step(sampler, rng)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert all(v.device.type in ("cuda", "cpu") for v in out.values())
    summary = train(params, data, _paths(tmp_path / "a"), progress=False)
    assert summary["device"].startswith("cuda") and summary["steps"] == 40
    # resume: 20 steps, then 20 more, equals 40 at once on the same device
    short = params.with_overrides({"train": {"steps": 20}})
    train(short, data, _paths(tmp_path / "b"), progress=False)
    train(params, data, _paths(tmp_path / "b"), resume=True, progress=False)
    train(params, data, _paths(tmp_path / "c"), progress=False)
    resumed, whole = (torch.load(tmp_path / f / "g.pt", weights_only=True)["state_dict"] for f in ("b", "c"))
    assert all(torch.allclose(resumed[k], whole[k], atol=1e-5) for k in whole)
    assert np.isfinite(load_generator(tmp_path / "c" / "g.pt", "cuda").sample(50, seed=1)).all()


def test_gpu_and_cpu_samples_agree(prepared, tmp_path):
    root, data = prepared
    train(_params(root, "rgan", "cuda", steps=300), data, _paths(tmp_path / "gpu"), progress=False)
    train(_params(root, "rgan", "cpu", steps=300), data, _paths(tmp_path / "cpu"), progress=False)
    on_gpu = load_generator(tmp_path / "gpu" / "g.pt", "cuda").sample_scaled(500, seed=3)
    on_cpu = load_generator(tmp_path / "gpu" / "g.pt", "cpu").sample_scaled(500, seed=3)
    assert np.allclose(on_gpu, on_cpu, atol=1e-4)  # the same noise (drawn on the CPU), the same network
    cpu_trained = load_generator(tmp_path / "cpu" / "g.pt", "cpu").sample_scaled(500, seed=3)
    assert marginal_distance(on_gpu, cpu_trained) < 0.1  # two trainings of the same recipe, other random streams
