"""Training: a loss that falls, determinism, checkpoints that load safely, resume equals uninterrupted."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import (
    cli_env,
    load_ckpt,
    read_log,
    run,
    tensors_equal,
    tiny,
    write_params,
)

from rgan.data.prepare import load_prepared
from rgan.evaluation.distances import marginal_distance
from rgan.sampling import load_generator


def test_training_writes_outputs_and_learns(workdir):
    write_params(workdir / "params.yaml", tiny(model={"hidden": 16}, train={"steps": 300, "batch_size": 32, "log_every": 10, "checkpoint_every": 100}))
    real = load_prepared(workdir / "data/prepared").windows("train")
    assert run("train", "--no-mlflow", "--params", "params.yaml", cwd=workdir)[0] == 0
    log = read_log(workdir / "metrics/train_log.tsv")
    assert [int(r["step"]) for r in log] == list(range(10, 301, 10))
    assert all(np.isfinite(float(r[k])) for r in log for k in ("d_loss", "g_loss", "g_grad_norm", "elapsed_s"))

    # the discriminator's loss falls from chance (2 ln 2) as it learns, and the generator's samples move
    # towards the data: their marginal distance to real windows falls well below that of the untrained net
    assert min(float(r["d_loss"]) for r in log[:10]) < float(log[0]["d_loss"]) - 0.1
    trained = load_generator(workdir / "models/generator.pt").sample_scaled(500, seed=0)
    untrained = load_generator(workdir / "models/generator.pt")
    torch.manual_seed(0)
    for m in untrained.network.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    before = marginal_distance(real, untrained.sample_scaled(500, seed=0))
    after = marginal_distance(real, trained)
    assert after < 0.5 * before, (before, after)


def test_same_seed_gives_bit_identical_files(tmp_path, workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    first = {p: (workdir / p).read_bytes() for p in ("models/generator.pt", "models/checkpoints/last.pt")}
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    for path, content in first.items():
        assert (workdir / path).read_bytes() == content, path


def test_different_seed_gives_different_weights(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    a = load_ckpt(workdir / "models/generator.pt")["state_dict"]
    write_params(workdir / "params.yaml", tiny(train={"seed": 1}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    b = load_ckpt(workdir / "models/generator.pt")["state_dict"]
    assert not tensors_equal(a, b)


def test_checkpoints_are_plain_tensors_and_values(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    ckpt = torch.load(workdir / "models/checkpoints/last.pt", weights_only=True)
    assert ckpt["step"] == 20
    assert set(ckpt["objective"]) == {"generator", "discriminator", "g_optimizer", "d_optimizer", "generator_ema"}
    assert ckpt["params"]["model"]["hidden"] == 8 and ckpt["scaler"]["columns"] == ["feature_0", "feature_1", "feature_2"]
    gen = torch.load(workdir / "models/generator.pt", weights_only=True)
    assert gen["columns"] == ["feature_0", "feature_1", "feature_2"] and gen["seq_len"] == 24
    assert "discriminator" not in str(gen.keys())
    # the shipped weights are the moving average, not the last step's
    ema = {k.removeprefix("module."): v for k, v in ckpt["objective"]["generator_ema"].items() if k != "n_averaged"}
    assert tensors_equal(gen["state_dict"], ema)
    assert not tensors_equal(gen["state_dict"], ckpt["objective"]["generator"])


def test_resume_continues_to_the_same_weights(workdir, tmp_path):
    write_params(workdir / "params.yaml", tiny(train={"steps": 40}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    full = load_ckpt(workdir / "models/checkpoints/last.pt")
    full_log = read_log(workdir / "metrics/train_log.tsv")

    write_params(workdir / "params.yaml", tiny(train={"steps": 20}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    write_params(workdir / "params.yaml", tiny(train={"steps": 40}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code == 0 and "resuming from step 20" in err
    resumed = load_ckpt(workdir / "models/checkpoints/last.pt")
    assert tensors_equal(full["objective"], resumed["objective"])
    assert tensors_equal(full["rng"], resumed["rng"])
    log = read_log(workdir / "metrics/train_log.tsv")
    assert [(r["step"], r["d_loss"], r["g_loss"]) for r in log] == [(r["step"], r["d_loss"], r["g_loss"]) for r in full_log]


def test_compiled_networks_train_sample_and_resume_uncompiled(workdir):
    """train.compile runs the networks through torch.compile (measured: no gain on CPUs, see README); it may change
    on resume, and the generator it writes loads and samples like any other."""
    write_params(workdir / "params.yaml", tiny(train={"steps": 10, "compile": True}))
    code, err = run("train", "--no-mlflow", cwd=workdir)
    assert code == 0, err
    write_params(workdir / "params.yaml", tiny(train={"steps": 20, "compile": False}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code == 0 and "resuming from step 10" in err, err
    assert np.isfinite(load_generator(workdir / "models/generator.pt").sample(5, seed=0)).all()


def test_resume_refuses_a_checkpoint_from_other_settings(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    write_params(workdir / "params.yaml", tiny(model={"hidden": 12}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code != 0 and "cannot resume" in err and "model.hidden: 8 -> 12" in err


def test_resume_takes_a_checkpoint_from_before_a_setting_existed_as_trained_with_its_default(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    path = workdir / "models/checkpoints/last.pt"
    rewrite_checkpoint(path, lambda ckpt: ckpt["params"]["train"].pop("spectral_weight"))  # as an older rgan wrote it
    write_params(workdir / "params.yaml", tiny(train={"steps": 30}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code == 0 and "resuming from step 20" in err, err
    rewrite_checkpoint(path, lambda ckpt: ckpt["params"]["train"].pop("spectral_weight"))
    write_params(workdir / "params.yaml", tiny(train={"steps": 40, "spectral_weight": 1.0}))  # not its default: refused
    error = resume_error(workdir)
    assert "cannot resume" in error and "train.spectral_weight: 0.0 -> 1.0" in error


def test_resume_refuses_changed_prepared_data(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    write_params(workdir / "params.yaml", tiny(data={"seed": 1}))  # another random split of the windows
    assert run("prepare", cwd=workdir)[0] == 0
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code != 0 and "the prepared data changed" in err


def rewrite_checkpoint(path, change):
    """Edit a real checkpoint as another machine or an older rgan would have written it."""
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)


def as_written_on_cuda(ckpt):
    ckpt["device_type"] = "cuda"
    ckpt["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's state: seed and offset, 8 bytes each


def as_written_before_device_types(setting):
    def change(ckpt):
        del ckpt["device_type"]
        ckpt["params"]["train"]["device"] = setting
    return change


def resume_error(workdir) -> str:
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    lines = [line for line in err.strip().splitlines() if not line.startswith("note: ")]  # notes on defaults used
    assert code != 0 and len(lines) == 1 and lines[0].startswith("rgan train: error: ") and "Traceback" not in err, err
    return lines[0]


def test_resume_refuses_a_checkpoint_from_another_device_type(workdir):
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    path = workdir / "models/checkpoints/last.pt"
    assert load_ckpt(path)["device_type"] == "cpu"
    rewrite_checkpoint(path, as_written_on_cuda)
    write_params(workdir / "params.yaml", tiny(train={"steps": 40}))
    error = resume_error(workdir)
    assert "cannot resume" in error and "trained on cuda but this run uses cpu (train.device 'cpu')" in error
    assert "set train.device to cuda" in error and "without --resume" in error
    assert load_ckpt(path)["step"] == 20  # refused before anything was written

    # a checkpoint from before rgan recorded the device type: its train.device setting says it
    rewrite_checkpoint(path, as_written_before_device_types("cuda:1"))
    assert "trained on cuda but this run uses cpu" in resume_error(workdir)
    for damaged in ("tpu", 7):
        rewrite_checkpoint(path, lambda ckpt: ckpt.update(device_type=damaged))
        error = resume_error(workdir)
        assert "damaged checkpoint" in error and f"device type {damaged!r}" in error, error


def test_resume_follows_the_device_type_not_the_setting(workdir):
    write_params(workdir / "params.yaml", tiny(train={"steps": 40}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    full = load_ckpt(workdir / "models/checkpoints/last.pt")
    write_params(workdir / "params.yaml", tiny(train={"steps": 20}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    # written before rgan recorded the device type, with train.device cpu; resumed with auto, cpu on this machine
    rewrite_checkpoint(workdir / "models/checkpoints/last.pt", as_written_before_device_types("cpu"))
    write_params(workdir / "params.yaml", tiny(train={"steps": 40, "device": "auto"}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    if torch.cuda.is_available():  # auto picks cuda there: another device type
        assert code != 0 and "trained on cpu but this run uses cuda (train.device 'auto')" in err
        return
    assert code == 0 and "resuming from step 20" in err, err
    resumed = load_ckpt(workdir / "models/checkpoints/last.pt")
    assert resumed["device_type"] == "cpu" and tensors_equal(full["objective"], resumed["objective"])


@pytest.mark.parametrize("model, train", [({"cell": "gru"}, {"loss": "wgan-gp", "d_steps": 2}), ({"cell": "rnn", "bidirectional_discriminator": True}, {"grad_clip": 1.0})])
def test_other_cells_and_losses_train(workdir, model, train):
    write_params(workdir / "params.yaml", tiny(model=model, train=train))
    code, err = run("train", "--no-mlflow", cwd=workdir)
    assert code == 0, err
    log = read_log(workdir / "metrics/train_log.tsv")
    assert all(np.isfinite(float(r["d_loss"])) for r in log)
    if train.get("loss") == "wgan-gp":
        assert float(log[-1]["gp"]) > 0


class Payload:
    """Stands for any pickled object: loading it would mean running code from the file."""


def test_foreign_file_is_refused_without_unpickling(workdir):
    torch.save({"format": "rgan-generator/1", "obj": Payload()}, workdir / "evil.pt")
    code, err = run("sample", "--generator", "evil.pt", "-n", "2", "--out", "s.csv", cwd=workdir)
    assert code != 0 and "not an rgan-generator file" in err and "weights_only" not in err
    assert not (workdir / "s.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_resumed_equals_uninterrupted(workdir, sig):
    steps = 1500  # the signal lands after ~30 steps: far from the end on any machine
    write_params(workdir / "params.yaml", tiny(train={"steps": steps, "log_every": 10, "checkpoint_every": 1000}))
    proc = subprocess.Popen([sys.executable, "-m", "rgan", "train", "--no-progress", "--no-mlflow"], cwd=workdir, env=cli_env(), stderr=subprocess.PIPE, text=True)
    live_log = workdir / "models/checkpoints/train_log.live.tsv"
    deadline = time.time() + 120
    while time.time() < deadline and (not live_log.exists() or len(live_log.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    interrupted_at = load_ckpt(workdir / "models/checkpoints/last.pt")["step"]
    assert 0 < interrupted_at < steps and f"at step {interrupted_at}" in err and "--resume" in err
    assert not (workdir / "models/generator.pt").exists()  # no final output from an unfinished run

    assert run("train", "--no-mlflow", "--resume", cwd=workdir)[0] == 0
    resumed = load_ckpt(workdir / "models/generator.pt")
    resumed_log = read_log(workdir / "metrics/train_log.tsv")

    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    full = load_ckpt(workdir / "models/generator.pt")
    assert tensors_equal(full["state_dict"], resumed["state_dict"])
    full_log = read_log(workdir / "metrics/train_log.tsv")
    assert [(r["step"], r["d_loss"], r["g_loss"]) for r in resumed_log] == [(r["step"], r["d_loss"], r["g_loss"]) for r in full_log]


def _validations(log: list[dict]) -> dict[int, float]:
    return {int(r["step"]): float(r["val_context_fid"]) for r in log if r["val_context_fid"]}


def test_keep_best_ships_the_generator_with_the_lowest_validation_score(workdir):
    """train.keep best: validations every train.validate_every steps (logged), the last weights scored too; the
    generator file holds the lowest-scored network, and train.json says which and how it compares with the last."""
    import json

    # a fast generator without the weight average: a run whose scores go down and up again (checked below)
    settings = {"steps": 60, "validate_every": 10, "checkpoint_every": 25, "g_lr": 0.02, "ema_decay": None}
    write_params(workdir / "params.yaml", tiny(train=settings))
    code, err = run("train", "--no-mlflow", cwd=workdir)
    assert code == 0 and "validation: context-FID on" in err, err
    scores = _validations(read_log(workdir / "metrics/train_log.tsv"))
    assert list(scores) == [10, 20, 30, 40, 50, 60]
    summary = json.loads((workdir / "metrics/train.json").read_text())
    best = min(scores, key=lambda step: (scores[step], step))
    assert best != 60, f"these settings no longer give a run whose last weights are not its best ({scores}): change them"
    assert summary["generator_step"] == best and summary["val_context_fid"] == round(scores[best], 6)
    assert summary["val_context_fid_last"] == scores[60] and summary["validations"] == 6
    assert load_ckpt(workdir / "models/generator.pt")["trained_steps"] == best
    saved = load_ckpt(workdir / "models/checkpoints/last.pt")["selection"]
    assert saved["best_step"] == best and saved["scores"] == [[step, pytest.approx(score, abs=1e-6)] for step, score in scores.items()]
    # the best generator's weights are those of its step: a run of that length with keep: last ships the same weights
    chosen = load_ckpt(workdir / "models/generator.pt")["state_dict"]
    write_params(workdir / "params.yaml", tiny(train={**settings, "steps": best, "keep": "last"}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    assert tensors_equal(chosen, load_ckpt(workdir / "models/generator.pt")["state_dict"])


def test_keep_last_ships_the_final_weights_and_still_validates(workdir):
    import json

    write_params(workdir / "params.yaml", tiny(train={"steps": 30, "validate_every": 10, "keep": "last"}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    summary = json.loads((workdir / "metrics/train.json").read_text())
    assert summary["generator_step"] == 30 and summary["validations"] == 3
    assert list(_validations(read_log(workdir / "metrics/train_log.tsv"))) == [10, 20, 30]


def test_a_resumed_run_validates_and_chooses_as_an_uninterrupted_one(workdir):
    """The validations and the best generator so far travel in the checkpoint; the last step of the shorter run is
    scored for its own choice only, so the longer run's log and choice do not depend on where it was resumed."""
    write_params(workdir / "params.yaml", tiny(train={"steps": 50, "validate_every": 10, "checkpoint_every": 5}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    full_log, full = read_log(workdir / "metrics/train_log.tsv"), (workdir / "models/generator.pt").read_bytes()
    write_params(workdir / "params.yaml", tiny(train={"steps": 25, "validate_every": 10, "checkpoint_every": 5}))
    assert run("train", "--no-mlflow", cwd=workdir)[0] == 0
    assert list(_validations(read_log(workdir / "metrics/train_log.tsv"))) == [10, 20]  # 25: not logged
    write_params(workdir / "params.yaml", tiny(train={"steps": 50, "validate_every": 10, "checkpoint_every": 5}))
    code, err = run("train", "--no-mlflow", "--resume", cwd=workdir)
    assert code == 0 and "resuming from step 25" in err, err
    assert _validations(read_log(workdir / "metrics/train_log.tsv")) == _validations(full_log)
    assert (workdir / "models/generator.pt").read_bytes() == full


def test_without_validation_windows_the_last_weights_are_shipped_with_a_note(workdir):
    import json

    write_params(workdir / "params.yaml", tiny(data={"val_fraction": 0.0}))
    assert run("prepare", cwd=workdir)[0] == 0
    code, err = run("train", "--no-mlflow", cwd=workdir)
    assert code == 0 and "note: 0 validation windows" in err and "last weights are shipped" in err, err
    summary = json.loads((workdir / "metrics/train.json").read_text())
    assert summary["generator_step"] == 20 and summary["validations"] == 0 and summary["val_context_fid"] is None
