import pytest
from conftest import ROOT, run, write_params

from rgan.config import Params, load_params, parse_params
from rgan.errors import RganError


def test_shipped_params_are_valid_and_complete():
    params = load_params(ROOT / "params.yaml")
    assert params.model.cell in ("rnn", "lstm", "gru")
    # every setting is spelled out in params.yaml: nothing silently comes from code defaults
    import yaml

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())

    def keys(model_dump, prefix=""):
        for k, v in model_dump.items():
            yield prefix + k
            if isinstance(v, dict) and prefix + k != "tune.space":  # the search space is a mapping the user writes
                yield from keys(v, prefix + k + ".")

    assert set(keys(params.model_dump())) == set(keys(raw))
    assert {k: v.model_dump(exclude_defaults=True) for k, v in params.tune.space.items()} == raw["tune"]["space"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"train": {"lrr": 0.1}}, ["unknown key 'train.lrr'", "g_lr"]),
        ({"model": {"cell": "lstmm"}}, ["model.cell", "'rnn', 'lstm' or 'gru'", "lstmm"]),
        ({"data": {"seq_len": 1}}, ["data.seq_len", "greater than or equal to 2"]),
        ({"train": {"g_lr": -0.001}}, ["train.g_lr", "greater than 0"]),
        ({"train": {"steps": "100"}}, ["train.steps", "integer"]),
        ({"train": {"steps": 1.5}}, ["train.steps", "integer"]),
        ({"model": {"bidirectional_discriminator": 1}}, ["model.bidirectional_discriminator", "boolean"]),
        ({"train": {"device": "tpu"}}, ["train.device", "auto, cpu, cuda or cuda:N"]),
        ({"data": {"missing": "zero"}}, ["data.missing", "'error', 'drop' or 'ffill'"]),
        ({"data": {"val_fraction": 0.5, "test_fraction": 0.5}}, ["val_fraction + test_fraction must be < 1"]),
        ({"train": {"betas": [0.5]}}, ["train.betas", "at least 2"]),
        ({"evaluation": {}}, ["unknown key 'evaluation'", "evaluate"]),
        ({"mlflow": {"tracking_uri": "http://x"}}, ["unknown key 'mlflow.tracking_uri'", "experiment"]),
        ({"mlflow": {"experiment": ""}}, ["mlflow.experiment", "at least 1 character"]),
        ({"registry": {"metric": "memorization_pass"}}, ["registry.metric", "'discriminative'"]),
        ({"registry": {"direction": "down"}}, ["registry.direction", "'minimize' or 'maximize'"]),
        ({"registry": {"gates": {"accuracy": True}}}, ["registry.gates", "unknown score 'accuracy'", "memorization_pass"]),
        ({"registry": {"gates": {"discriminative": True}}}, ["registry.gates", "discriminative takes {min: x, max: y}"]),
        ({"registry": {"gates": {"discriminative": {"min": 0.3, "max": 0.1}}}}, ["registry.gates", "above max"]),
        ({"registry": {"model_name": "my model"}}, ["registry.model_name", "pattern"]),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(raw, expected):
    with pytest.raises(RganError) as err:
        parse_params(raw)
    for text in expected:
        assert text in str(err.value)


def test_yaml_exponent_floats_are_numbers(tmp_path):
    # PyYAML alone reads `1e-3` as a string; DVC reads it as a float. We agree with DVC.
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  g_lr: 1e-3\n  d_lr: 2E-4\n  steps: 5\n")
    params = load_params(path)
    assert params.train.g_lr == pytest.approx(1e-3) and params.train.d_lr == pytest.approx(2e-4)
    assert params.train.steps == 5


def test_cli_stops_before_any_work_on_bad_params(tmp_path):
    write_params(tmp_path / "params.yaml", {"model": {"cell": "lstmm"}})
    code, err = run("make-sines", "--out", "raw.parquet", cwd=tmp_path)
    assert code != 0
    assert "model.cell" in err and "Traceback" not in err
    assert not (tmp_path / "raw.parquet").exists()


def test_missing_params_file(tmp_path):
    code, err = run("params", "--params", "nope.yaml", cwd=tmp_path)
    assert code != 0 and "params file not found: nope.yaml" in err


def test_defaults_validate():
    assert Params() == parse_params({})
