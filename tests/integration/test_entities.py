"""Per-entity data end to end. Categorical feature columns, for every model kind: prepare one-hot encodes them,
training generates them as a softmax, sampling writes their labels (CSV and Parquet alike), evaluate scores their
frequencies, and the MLflow model answers with the same labelled rows as `rgan sample`. Attributes (static per
entity): the generator is conditioned on them, samples carry drawn or given ones, `--condition` and the MLflow
model's request columns fix them, evaluate scores condition fidelity, training resumes exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import CLASSES, cli_env, entities_csv, run, tiny, write_params

STATES = ["fault", "idle", "run"]


def machines_csv(path, machines: int = 40, steps: int = 30, seed: int = 0) -> None:
    """Per-machine series: a text state that persists and switches now and then, power that follows the state, and
    an integer mode code."""
    rng = np.random.default_rng(seed)
    rows = []
    for machine in range(machines):
        state = rng.choice(STATES, p=[0.1, 0.5, 0.4])
        for t in range(steps):
            if rng.random() < 0.1:
                state = rng.choice(STATES, p=[0.1, 0.5, 0.4])
            power = (2.0 if state == "run" else 0.5 if state == "idle" else 0.0) + 0.1 * rng.normal()
            rows.append((machine, t, power, int(rng.integers(1, 4)), state))
    pd.DataFrame(rows, columns=["machine", "t", "power", "mode", "state"]).to_csv(path, index=False)


def project(root, kind: str = "rgan") -> None:
    machines_csv(root / "machines.csv")
    raw = tiny(data={"path": "machines.csv", "time_column": "t", "sequence_column": "machine", "seq_len": 8,
                     "categorical_columns": ["state", "mode"]})
    if kind != "rgan":  # tiny's model settings are rgan's
        raw["model"] = {"kind": kind, "hidden": 8}
    write_params(root / "params.yaml", raw)


@pytest.mark.parametrize("kind", ["rgan", "timegan", "vaegan"])
def test_labels_round_trip_through_every_kind(tmp_path, kind):
    project(tmp_path, kind)
    code, err = run("prepare", cwd=tmp_path)
    assert code == 0, err
    stats = json.loads((tmp_path / "data/prepared/stats.json").read_text())
    assert stats["categories"] == {"state": STATES, "mode": [1, 2, 3]}
    assert stats["columns"] == ["power", "state=fault", "state=idle", "state=run", "mode=1", "mode=2", "mode=3"]
    code, err = run("train", "--no-mlflow", cwd=tmp_path)
    assert code == 0, err
    for out in ("s.csv", "s.parquet", "again.csv"):
        code, err = run("sample", "-n", "5", "--seed", "3", "--out", out, cwd=tmp_path)
        assert code == 0, err
    from_csv, from_parquet = pd.read_csv(tmp_path / "s.csv"), pd.read_parquet(tmp_path / "s.parquet")
    assert list(from_csv.columns) == ["sequence_id", "step", "power", "state", "mode"]
    assert len(from_csv) == 5 * 8 and set(from_csv.state) <= set(STATES) and set(from_csv["mode"]) <= {1, 2, 3}
    assert from_parquet["mode"].dtype == np.int64 and from_csv["power"].dtype == np.float64
    pd.testing.assert_frame_equal(from_csv, from_parquet.astype(from_csv.dtypes.to_dict()))
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "again.csv").read_bytes()  # same seed, same bytes


def test_evaluate_scores_category_frequencies(tmp_path):
    project(tmp_path)
    for args in (("prepare",), ("train", "--no-mlflow"), ("evaluate", "--no-mlflow", "--no-plots")):
        code, err = run(*args, cwd=tmp_path)
        assert code == 0, err
    metrics = json.loads((tmp_path / "metrics/eval.json").read_text())
    assert 0 <= metrics["category_tv"]["mean"] <= 1
    shares = metrics["category_frequencies"]
    assert set(shares) == {"state", "mode"} and set(shares["state"]) == set(STATES) and set(shares["mode"]) == {"1", "2", "3"}
    for column in shares.values():
        assert sum(v["real"] for v in column.values()) == pytest.approx(1, abs=1e-5)
        assert sum(v["synthetic"] for v in column.values()) == pytest.approx(1, abs=1e-5)


def tracked_model(root) -> str:
    """Prepare and train with MLflow in `root`; the logged model's URI."""
    for args in (("prepare",), ("train",)):
        code, err = run(*args, cwd=root)
        assert code == 0, err
    return json.loads((root / "models/mlflow_run.json").read_text())["model_uri"]


def in_fresh_process(root, uri: str, body: str) -> str:
    """Run `body` with the MLflow model loaded as `m` in a new Python process (as a server would); its stdout."""
    script = f"import sys, mlflow, pandas as pd\nm = mlflow.pyfunc.load_model({uri!r})\n{body}"
    result = subprocess.run([sys.executable, "-c", script, "pyfunc.csv"], cwd=root, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mlflow_model_answers_with_labels_as_rgan_sample_writes_them(tmp_path):
    project(tmp_path)
    stdout = in_fresh_process(tmp_path, tracked_model(tmp_path), (
        "m.predict(pd.DataFrame({'n': [4], 'seed': [7]})).to_csv(sys.argv[1], index=False)\n"
        "print({c['name']: c['type'] for c in m.metadata.get_output_schema().to_dict()})\n"))
    assert "'state': 'string'" in stdout and "'mode': 'long'" in stdout and "'power': 'double'" in stdout
    assert run("sample", "-n", "4", "--seed", "7", "--out", "file.csv", cwd=tmp_path)[0] == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pyfunc.csv"), pd.read_csv(tmp_path / "file.csv"))


def conditional(root, **train) -> None:
    entities_csv(root / "entities.csv")
    write_params(root / "params.yaml", tiny(
        data={"path": "entities.csv", "time_column": "t", "sequence_column": "entity", "seq_len": 8,
              "categorical_columns": ["state"], "attribute_columns": ["class", "size"]},
        train=train))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("entities")
    conditional(root)
    for args in (("prepare",), ("train", "--no-mlflow")):
        code, err = run(*args, cwd=root)
        assert code == 0, err
    return root


def test_attributes_come_last_and_each_sequence_keeps_one_value(trained):
    scaler = json.loads((trained / "data/prepared/scaler.json").read_text())
    assert scaler["columns"] == ["value", "state=down", "state=up", "class=a", "class=b", "class=c", "size"]
    assert scaler["attributes"] == ["class", "size"]
    code, err = run("sample", "-n", "30", "--seed", "1", "--out", "s.csv", cwd=trained)
    assert code == 0, err
    frame = pd.read_csv(trained / "s.csv")
    assert list(frame.columns) == ["sequence_id", "step", "value", "state", "class", "size"]
    per_sequence = frame.groupby("sequence_id")[["class", "size"]].nunique()
    assert (per_sequence == 1).all().all()
    assert set(frame["class"]) <= set(CLASSES) and len(set(frame["class"])) > 1  # drawn, not one fixed value
    real = pd.read_csv(trained / "entities.csv")
    assert real["size"].min() <= frame["size"].min() and frame["size"].max() <= real["size"].max()
    assert not set(frame["size"].round(9)) & set(real["size"].round(9))  # drawn from a fitted model, not copied


def test_conditions_fix_attributes_in_every_row_and_the_same_seed_gives_the_same_bytes(trained):
    for out in ("c.csv", "again.csv"):
        code, err = run("sample", "-n", "6", "--seed", "2", "--condition", "class=b", "--condition", "size=2.5", "--out", out, cwd=trained)
        assert code == 0, err
    frame = pd.read_csv(trained / "c.csv")
    assert (frame["class"] == "b").all() and (frame["size"] == 2.5).all() and len(frame) == 6 * 8
    assert (trained / "c.csv").read_bytes() == (trained / "again.csv").read_bytes()
    code, err = run("sample", "-n", "40", "--seed", "2", "--condition", "class=c", "--out", "only_class.csv", cwd=trained)
    assert code == 0, err
    frame = pd.read_csv(trained / "only_class.csv")
    assert (frame["class"] == "c").all() and frame["size"].nunique() > 1  # size drawn given the class


@pytest.mark.parametrize("condition, message", [
    ("class=z", "--condition class=z: unknown category (allowed: a, b, c)"),
    ("colour=red", "--condition colour: not an attribute of this generator (attributes: class, size)"),
    ("size=99", "--condition size=99: outside the training range"),
    ("size=big", "--condition size=big: not a number (attribute 'size' is numeric)"),
    ("class", "--condition class: expected ATTRIBUTE=VALUE"),
])
def test_a_bad_condition_is_one_line_and_writes_nothing(trained, condition, message):
    code, err = run("sample", "-n", "2", "--condition", condition, "--out", "bad.csv", cwd=trained)
    assert code == 1 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (trained / "bad.csv").exists()


def test_conditions_on_a_generator_without_attributes_are_refused(tmp_path):
    project(tmp_path)
    for args in (("prepare",), ("train", "--no-mlflow")):
        assert run(*args, cwd=tmp_path)[0] == 0
    code, err = run("sample", "-n", "2", "--condition", "state=run", "--out", "x.csv", cwd=tmp_path)
    assert code == 1 and "trained without attributes (data.attribute_columns), so it takes no conditions" in err


def test_evaluate_scores_condition_fidelity_and_attribute_distance(trained):
    code, err = run("evaluate", "--no-mlflow", "--no-plots", cwd=trained)
    assert code == 0, err
    metrics = json.loads((trained / "metrics/eval.json").read_text())
    accuracy = metrics["condition_accuracy"]["class"]
    assert set(accuracy) == {"real", "synthetic", "chance"} and accuracy["chance"] == pytest.approx(1 / 3, abs=0.1)
    assert accuracy["real"] > 0.9  # the class sets the frequency: the features reveal it
    assert 0 <= metrics["attribute_distance"]["mean"] <= 1


def test_resume_in_the_conditional_mode_reaches_the_same_weights(tmp_path):
    conditional(tmp_path, steps=20)
    assert run("prepare", cwd=tmp_path)[0] == 0
    assert run("train", "--no-mlflow", cwd=tmp_path)[0] == 0
    full = torch.load(tmp_path / "models/generator.pt", weights_only=True)
    conditional(tmp_path, steps=10)
    assert run("train", "--no-mlflow", cwd=tmp_path)[0] == 0
    conditional(tmp_path, steps=20)
    code, err = run("train", "--no-mlflow", "--resume", cwd=tmp_path)
    assert code == 0 and "resuming from step 10" in err, err
    resumed = torch.load(tmp_path / "models/generator.pt", weights_only=True)
    assert all(torch.equal(full["state_dict"][k], resumed["state_dict"][k]) for k in full["state_dict"])
    assert full["attributes"] == resumed["attributes"]


def test_mlflow_model_takes_conditions_per_request_row(tmp_path):
    conditional(tmp_path)
    stdout = in_fresh_process(tmp_path, tracked_model(tmp_path), (
        "out = m.predict(pd.DataFrame({'n': [2, 3], 'seed': [7, 8], 'class': ['a', 'c']}))\n"
        "out.to_csv(sys.argv[1], index=False)\n"
        "try:\n"
        "    m.predict(pd.DataFrame({'n': [1], 'class': ['z']}))\n"
        "except Exception as exc:\n"
        "    print('refused:', exc)\n"
        "print({c['name'] for c in m.metadata.get_input_schema().to_dict()})\n"))
    assert "unknown category (allowed: a, b, c)" in stdout and "'class'" in stdout and "'size'" in stdout
    frame = pd.read_csv(tmp_path / "pyfunc.csv")
    assert frame.groupby("sequence_id")["class"].first().tolist() == ["a", "a", "c", "c", "c"]
    assert run("sample", "-n", "3", "--seed", "8", "--condition", "class=c", "--out", "file.csv", cwd=tmp_path)[0] == 0
    from_file = pd.read_csv(tmp_path / "file.csv")
    from_model = frame[frame.sequence_id >= 2].assign(sequence_id=lambda f: f.sequence_id - 2).reset_index(drop=True)
    pd.testing.assert_frame_equal(from_model, from_file)


# sequences mode, on the built-in per-entity dataset (fewer machines)


def sequences_project(root, kind: str = "rgan", **train) -> None:
    raw = tiny(
        data={"path": "data/raw/entities.parquet", "time_column": "step", "sequence_column": "machine", "mode": "sequences",
              "max_len": 60, "min_len": 5, "columns": ["load"], "categorical_columns": ["state"],
              "attribute_columns": ["class", "size"], "entities": {"n_entities": 150, "seed": 0}},
        train=train)
    if kind != "rgan":  # tiny's model settings are rgan's
        raw["model"] = {"kind": kind, "hidden": 8}
    if kind == "timegan":  # a few steps of each phase
        raw["train"]["timegan"] = {"autoencoder_steps": 4, "supervised_steps": 4}
    write_params(root / "params.yaml", raw)


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    root = tmp_path_factory.mktemp("sequences")
    sequences_project(root)
    for args in (("make-entities",), ("prepare",), ("train", "--no-mlflow")):
        code, err = run(*args, cwd=root)
        assert code == 0, err
    return root


def real_lengths(root) -> pd.DataFrame:
    real = pd.read_parquet(root / "data/raw/entities.parquet")
    return real.groupby("machine").agg(length=("step", "size"), cls=("class", "first"))


def test_each_sequence_has_its_own_length_and_lengths_follow_the_training_ones_per_class(sequences):
    stats = json.loads((sequences / "data/prepared/stats.json").read_text())
    assert stats["mode"] == "sequences" and stats["lengths"]["train"]["max"] <= 60
    code, err = run("sample", "-n", "400", "--seed", "1", "--out", "s.csv", cwd=sequences)
    assert code == 0, err
    frame = pd.read_csv(sequences / "s.csv")
    assert list(frame.columns) == ["sequence_id", "step", "load", "state", "class", "size"]
    per_sequence = frame.groupby("sequence_id").agg(length=("step", "size"), last=("step", "max"), cls=("class", "first"))
    assert (per_sequence["last"] == per_sequence["length"] - 1).all()  # steps 0..L-1, no padding rows
    assert per_sequence["length"].between(5, 60).all() and per_sequence["length"].nunique() > 10
    real = real_lengths(sequences)
    for cls in ("compressor", "fan", "pump"):
        generated, original = per_sequence.length[per_sequence.cls == cls], real.length[real.cls == cls]
        assert abs(generated.mean() - original.mean()) < 4, (cls, generated.mean(), original.mean())


def test_a_condition_sets_the_class_and_its_lengths_and_seq_len_is_refused(sequences):
    code, err = run("sample", "-n", "100", "--seed", "2", "--condition", "class=pump", "--out", "pumps.csv", cwd=sequences)
    assert code == 0, err
    frame = pd.read_csv(sequences / "pumps.csv")
    lengths = frame.groupby("sequence_id").size()
    assert (frame["class"] == "pump").all() and lengths.mean() > 40  # pumps run 35-60 steps
    code, err = run("sample", "-n", "2", "--seq-len", "30", "--out", "x.csv", cwd=sequences)
    assert code == 1 and "--seq-len: this generator draws each sequence's own length" in err


def test_evaluate_scores_valid_steps_and_lengths(sequences):
    code, err = run("evaluate", "--no-mlflow", "--no-plots", cwd=sequences)
    assert code == 0, err
    metrics = json.loads((sequences / "metrics/eval.json").read_text())
    assert metrics["length_w1"]["mean"] < 5 and set(metrics["length_w1_by"]["class"]) == {"compressor", "fan", "pump"}
    assert all(0 <= metrics[k]["mean"] <= 1 for k in ("category_tv", "attribute_distance", "discriminative"))
    shares = metrics["category_frequencies"]["state"]
    assert sum(v["real"] for v in shares.values()) == pytest.approx(1, abs=1e-5)  # valid steps only: shares sum to 1


def test_resume_in_the_sequences_mode_reaches_the_same_weights(tmp_path):
    sequences_project(tmp_path, steps=16)
    for args in (("make-entities",), ("prepare",), ("train", "--no-mlflow")):
        assert run(*args, cwd=tmp_path)[0] == 0
    full = torch.load(tmp_path / "models/generator.pt", weights_only=True)
    sequences_project(tmp_path, steps=8)
    assert run("train", "--no-mlflow", cwd=tmp_path)[0] == 0
    sequences_project(tmp_path, steps=16)
    code, err = run("train", "--no-mlflow", "--resume", cwd=tmp_path)
    assert code == 0 and "resuming from step 8" in err, err
    resumed = torch.load(tmp_path / "models/generator.pt", weights_only=True)
    assert all(torch.equal(full["state_dict"][k], resumed["state_dict"][k]) for k in full["state_dict"])


@pytest.mark.parametrize("kind", ["timegan", "vaegan"])
def test_every_kind_generates_sequences_of_their_own_length_on_a_condition(tmp_path, kind):
    sequences_project(tmp_path, kind, steps=16)
    for args in (("make-entities",), ("prepare",), ("train", "--no-mlflow")):
        code, err = run(*args, cwd=tmp_path)
        assert code == 0, err
    args = ("sample", "-n", "30", "--seed", "2", "--condition", "class=pump", "--condition", "size=2.5")
    assert run(*args, "--out", "a.csv", cwd=tmp_path)[0] == 0 and run(*args, "--out", "b.csv", cwd=tmp_path)[0] == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "a.csv")
    assert list(frame.columns) == ["sequence_id", "step", "load", "state", "class", "size"]
    per_sequence = frame.groupby("sequence_id").agg(length=("step", "size"), last=("step", "max"))
    assert (per_sequence["last"] == per_sequence["length"] - 1).all() and per_sequence["length"].between(5, 60).all()
    assert (frame["class"] == "pump").all() and (frame["size"] == 2.5).all() and frame["load"].notna().all()
    assert set(frame["state"]) <= set(pd.read_parquet(tmp_path / "data/raw/entities.parquet")["state"])


def test_a_conditions_file_gives_one_sequence_per_row_on_its_conditions(sequences):
    (sequences / "wanted.csv").write_text("class, size, _length\npump,,\n fan, 2.0,\n,1.5,\ncompressor,,12\n")  # spaces as typed
    code, err = run("sample", "--conditions", "wanted.csv", "--seed", "3", "--out", "wanted_out.csv", cwd=sequences)
    assert code == 0, err
    frame = pd.read_csv(sequences / "wanted_out.csv")
    per_sequence = frame.groupby("sequence_id").agg(length=("step", "size"), cls=("class", "first"), size=("size", "first"))
    assert per_sequence.cls.tolist()[:2] == ["pump", "fan"] and per_sequence.cls.tolist()[3] == "compressor"
    assert per_sequence["size"].tolist()[1:3] == [2.0, 1.5] and per_sequence.length.tolist()[3] == 12
    again = run("sample", "--conditions", "wanted.csv", "--seed", "3", "--out", "again.csv", cwd=sequences)
    assert again[0] == 0 and (sequences / "again.csv").read_bytes() == (sequences / "wanted_out.csv").read_bytes()


@pytest.mark.parametrize("content, args, message", [
    ("colour\nred\n", (), "column 'colour' is not an attribute of this generator"),
    ("class\nzzz\n", (), "row 1: class=zzz: unknown category (allowed: compressor, fan, pump)"),
    ("class\n", (), "no rows (one row per sequence)"),
    ("class\npump\n", ("-n", "2"), "give -n (how many sequences) or --conditions FILE"),
    ("class\npump\n", ("--condition", "class=fan"), "give the conditions one way"),
])
def test_a_bad_conditions_file_is_one_line_and_writes_nothing(sequences, content, args, message):
    (sequences / "bad_conditions.csv").write_text(content)
    code, err = run("sample", "--conditions", "bad_conditions.csv", *args, "--out", "bad_out.csv", cwd=sequences)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1 and not (sequences / "bad_out.csv").exists()


def test_per_condition_discriminative_scores_are_in_the_metrics(trained):
    code, err = run("evaluate", "--no-mlflow", "--no-plots", cwd=trained)
    assert code == 0, err
    metrics = json.loads((trained / "metrics/eval.json").read_text())
    by_class = metrics["discriminative_by"]["class"]
    assert set(by_class) == set(CLASSES) and all(0 <= v <= 0.5 for v in by_class.values())
    assert metrics["discriminative_worst_condition"]["mean"] == max(by_class.values())
