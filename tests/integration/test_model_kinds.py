"""TimeGAN and the recurrent VAE-GAN through `rgan train`: they learn, sample in original units, are deterministic,
resume, train with WGAN-GP, log per phase to MLflow."""

from __future__ import annotations

import io
import json
import math

import mlflow
import numpy as np
import pytest
import torch
from conftest import (
    kind_params,
    load_ckpt,
    read_log,
    run,
    tensors_equal,
    write_params,
)

from rgan.data.prepare import load_prepared
from rgan.sampling import load_generator

KINDS = ("timegan", "vaegan")



@pytest.mark.parametrize("kind", KINDS)
def test_kind_trains_learns_and_samples_in_original_units(workdir, kind):
    write_params(workdir / "params.yaml", kind_params(kind, model={"hidden": 16}, train={"steps": 200, "batch_size": 32, "log_every": 10,
                                                                                         "checkpoint_every": 100,
                                                                                             **({"timegan": {"autoencoder_steps": 80, "supervised_steps": 60}} if kind == "timegan" else {})}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    log = read_log(workdir / "metrics/train_log.tsv")
    assert [int(r["step"]) for r in log] == list(range(10, 201, 10))
    if kind == "timegan":
        phases = [float(r["phase"]) for r in log]
        assert phases[:8] == [0.0] * 8 and phases[8:14] == [1.0] * 6 and set(phases[14:]) == {2.0}
        ae = [float(r["ae_loss"]) for r in log[:8]]
        sup = [float(r["sup_loss"]) for r in log[8:14]]
        assert ae[-1] < 0.7 * ae[0] and sup[-1] < sup[0], (ae, sup)  # the autoencoder and supervisor learn
        assert all(r["d_loss"] == "nan" for r in log[:14]) and all(math.isfinite(float(r["d_loss"])) for r in log[14:])
    else:
        recon = [float(r["recon_loss"]) for r in log]
        assert min(recon[-5:]) < 0.7 * recon[0], recon
    code, err = run("evaluate", "--no-mlflow", cwd=workdir)
    assert code == 0, err
    code, err = run("sample", "-n", "50", "--seed", "3", "--out", "s.parquet", cwd=workdir)
    assert code == 0, err
    import pandas as pd

    frame = pd.read_parquet(workdir / "s.parquet")
    prepared = load_prepared(workdir / "data/prepared")
    assert list(frame.columns) == ["sequence_id", "step", *prepared.columns] and len(frame) == 50 * 24
    low, high = np.array(prepared.stats["raw"]["min"]), np.array(prepared.stats["raw"]["max"])
    values = frame[prepared.columns].to_numpy()
    assert (values >= low - 1e-9).all() and (values <= high + 1e-9).all()  # sigmoid outputs mapped back to the data's range


@pytest.mark.parametrize("kind", KINDS)
def test_kind_is_deterministic_and_resumes_to_the_same_weights(workdir, kind):
    write_params(workdir / "params.yaml", kind_params(kind))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    first = {p: (workdir / p).read_bytes() for p in ("models/generator.pt", "models/checkpoints/last.pt")}
    full_log = read_log(workdir / "metrics/train_log.tsv")
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    for path, content in first.items():
        assert (workdir / path).read_bytes() == content, path

    # stop inside the supervised phase (step 15), resume to 40: the same weights and log as one run
    write_params(workdir / "params.yaml", kind_params(kind, train={"steps": 15, "checkpoint_every": 5}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    write_params(workdir / "params.yaml", kind_params(kind))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code == 0 and "resuming from step 15" in err, err
    assert tensors_equal(load_ckpt(workdir / "models/checkpoints/last.pt")["objective"], torch.load(
        io.BytesIO(first["models/checkpoints/last.pt"]), weights_only=True)["objective"])
    def losses(rows):  # timings differ between runs; every loss must not
        return [{k: v for k, v in r.items() if k not in ("elapsed_s", "steps_per_s")} for r in rows]

    assert losses(read_log(workdir / "metrics/train_log.tsv")) == losses(full_log) and len(full_log) == 8
    # the generator file holds the kind's sampler only, as plain tensors
    gen = load_ckpt(workdir / "models/generator.pt")
    assert gen["model"]["kind"] == kind and not any("discriminator" in k or "encoder" in k or "embedder" in k for k in gen["state_dict"])
    assert load_generator(workdir / "models/generator.pt").sample(4, seed=1).shape == (4, 24, 3)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_trains_with_wgan_gp(workdir, kind):
    write_params(workdir / "params.yaml", kind_params(kind, train={"loss": "wgan-gp", "d_steps": 2, "steps": 30}))
    code, err = run("train", "--no-mlflow", cwd=workdir)
    assert code == 0, err
    last = read_log(workdir / "metrics/train_log.tsv")[-1]
    assert float(last["gp"]) > 0 and math.isfinite(float(last["d_loss"]))


@pytest.mark.slow
def test_timegan_phases_are_logged_separately_in_mlflow(workdir):
    write_params(workdir / "params.yaml", kind_params("timegan"))
    code, err = run("train", cwd=workdir)
    assert code == 0, err
    run_id = json.loads((workdir / "models/mlflow_run.json").read_text())["run_id"]
    client = mlflow.MlflowClient()
    steps = {name: [m.step for m in client.get_metric_history(run_id, f"train/{name}")] for name in ("ae_loss", "sup_loss", "d_loss", "phase")}
    assert steps["ae_loss"] == [5, 10, 25, 30, 35, 40]  # autoencoder phase, and the joint phase's reconstruction
    assert steps["sup_loss"] == [15, 20, 25, 30, 35, 40] and steps["d_loss"] == [25, 30, 35, 40]
    assert client.get_run(run_id).data.params["model.kind"] == "timegan"


def test_timegan_stopped_before_the_joint_phase_ships_its_trained_networks(workdir):
    write_params(workdir / "params.yaml", kind_params("timegan", train={"steps": 15}))  # ends in the supervised phase
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    shipped = load_ckpt(workdir / "models/generator.pt")["state_dict"]
    networks = load_ckpt(workdir / "models/checkpoints/last.pt")["objective"]["networks"]
    assert tensors_equal(shipped, {k.removeprefix("sampler."): v for k, v in networks.items() if k.startswith("sampler.")})
