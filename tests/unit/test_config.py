"""Settings: the shipped params.yaml is the code defaults, bad values name the key and what is allowed, each model kind
reads its own settings."""

import pytest
import yaml
from conftest import ROOT

from rgan.config import Params, load_params, parse_params
from rgan.errors import RganError


def test_params_yaml_is_the_code_defaults():
    """One source of every default (the classes in rgan.config): the shipped file states exactly their values, every
    setting spelled out, so nothing silently comes from code a user cannot see."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())

    def keys(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            # free-form mappings (gates, node selector, the search space) hold values, not settings
            if isinstance(v, dict) and k not in ("gates", "gpu_node_selector", "space"):
                out |= keys(v, f"{prefix}{k}.")
        return out

    assert load_params(ROOT / "params.yaml") == Params()
    assert keys(raw) == keys(Params().model_dump(mode="json"))


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
        ({"model": {"discriminator_scales": [4, 1]}}, ["model.discriminator_scales", "must start with 1", "[1, 4]"]),
        ({"model": {"discriminator_scales": [1, 2, 2]}}, ["model.discriminator_scales", "must start with 1 (the per-step discriminator) and rise"]),
        ({"model": {"discriminator_scales": []}}, ["model.discriminator_scales", "at least 1 item"]),
        ({"model": {"discriminator_scales": [1, 0]}}, ["model.discriminator_scales", "greater than or equal to 1"]),
        ({"model": {"discriminator_scales": [1, 48]}}, ["model.discriminator_scales: scale 48 is longer than data.seq_len 24"]),
        ({"model": {"kind": "timegan", "discriminator_scales": [1, 4]}}, ["model.discriminator_scales is not used by model.kind timegan"]),
        ({"train": {"augment": ["flip"]}}, ["train.augment", "'jitter' or 'scale'", "flip"]),
        ({"train": {"augment": ["jitter", "jitter"]}}, ["train.augment", "name each transform once"]),
        ({"model": {"kind": "timegan"}, "train": {"augment": ["jitter"]}}, ["train.augment is not used by model.kind timegan"]),
        ({"train": {"device": "tpu"}}, ["train.device", "auto, cpu, cuda or cuda:N"]),
        ({"data": {"missing": "zero"}}, ["data.missing", "'error', 'drop' or 'ffill'"]),
        ({"data": {"val_fraction": 0.5, "test_fraction": 0.5}}, ["val_fraction + test_fraction must be < 1"]),
        ({"train": {"betas": [0.5]}}, ["train.betas", "at least 2"]),
        ({"evaluation": {}}, ["unknown key 'evaluation'", "evaluate"]),
        ({"mlflow": {"tracking_uri": "http://x"}}, ["unknown key 'mlflow.tracking_uri'", "experiment"]),
        ({"mlflow": {"experiment": ""}}, ["mlflow.experiment", "at least 1 character"]),
        ({"mlflow": {"request_retries": 11}}, ["mlflow.request_retries", "less than or equal to 10"]),
        ({"registry": {"metric": "memorization_pass"}}, ["registry.metric", "'discriminative'"]),
        ({"registry": {"direction": "down"}}, ["registry.direction", "'minimize' or 'maximize'"]),
        ({"registry": {"gates": {"accuracy": True}}}, ["registry.gates", "unknown score 'accuracy'", "memorization_pass"]),
        ({"registry": {"gates": {"discriminative": True}}}, ["registry.gates", "discriminative takes {min: x, max: y}"]),
        ({"registry": {"gates": {"discriminative": {"min": 0.3, "max": 0.1}}}}, ["registry.gates", "above max"]),
        ({"registry": {"model_name": "my model"}}, ["registry.model_name", "pattern"]),
        # each kind reads its own settings: one it would ignore is refused, naming the kind
        ({"model": {"kind": "timegan", "discriminator_hidden": 8}}, ["model.discriminator_hidden is not used by model.kind timegan", "latent_dim"]),
        ({"model": {"kind": "timegan", "bidirectional_discriminator": True}}, ["model.bidirectional_discriminator is not used by model.kind timegan"]),
        ({"model": {"kind": "vaegan", "z_global_dim": 4}}, ["model.z_global_dim is not used by model.kind vaegan", "(only by rgan, timegan)"]),
        ({"model": {"latent_dim": 8}}, ["model.latent_dim is not used by model.kind rgan", "(only by timegan, vaegan)"]),
        ({"train": {"timegan": {"gamma": 2.0}}}, ["train.timegan is not used by model.kind rgan", "(only by timegan)"]),
        ({"model": {"kind": "timegan"}, "train": {"vaegan": {}}}, ["train.vaegan is not used by model.kind timegan"]),
        ({"model": {"kind": "timegan"}, "train": {"timegan": {"gama": 1.0}}}, ["unknown key 'train.timegan.gama'", "gamma"]),
        ({"model": {"kind": "gan"}}, ["model.kind: must be one of rgan, timegan, vaegan", "'gan'"]),
        ({"train": {"kind": "timegan"}}, ["train.kind: not a setting", "model.kind"]),
        ({"tune": {"space": {"train.kind": {"choices": ["rgan"]}}}}, ["tune.space: 'train.kind' is not a setting of model.kind rgan"]),
        ({"model": {"kind": "timegan"}, "tune": {"space": {"train.timegan": {"choices": [1]}}}},
         ["tune.space: 'train.timegan' is not a setting of model.kind timegan"]),
        ({"model": {"kind": "vaegan"}, "tune": {"space": {"model.z_dim": {"choices": [1, 2]}}}},
         ["tune.space: 'model.z_dim' is not a setting of model.kind vaegan"]),
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


@pytest.mark.parametrize("kind", ["timegan", "vaegan", "rgan"])
def test_params_for_another_kind_keep_shared_settings_and_validate(kind):
    shipped = load_params(ROOT / "params.yaml")
    moved = shipped.for_kind(kind)
    assert moved.model.kind == kind and moved.train.kind == kind
    assert (moved.model.hidden, moved.train.steps, moved.evaluate) == (shipped.model.hidden, shipped.train.steps, shipped.evaluate)
    assert parse_params(moved.model_dump()) == moved  # what `rgan params --kind` prints is a valid params file
    assert ("timegan" in moved.model_dump()["train"]) == (kind == "timegan")



def test_a_bad_kind_is_one_line_even_with_a_train_section():
    with pytest.raises(RganError) as caught:
        parse_params({"model": {"kind": "timgan"}, "train": {"steps": 5}})
    assert str(caught.value) == "invalid params: params.yaml: model.kind: must be one of rgan, timegan, vaegan (got 'timgan')"


def test_another_kind_keeps_a_search_space_when_none_of_its_settings_carry_over():
    params = parse_params({"model": {"kind": "timegan"}, "tune": {"space": {"model.latent_dim": {"choices": [8, 16]}}}})
    assert set(params.for_kind("rgan").tune.space) == set(Params().tune.space)  # the default search, not an empty one


def test_records_written_before_per_kind_settings_keep_only_the_kinds_own():
    from rgan.config import own_settings

    old_model = {**Params().model.model_dump(), "latent_dim": None}
    old_train = {**Params().train.model_dump(), "timegan": {"gamma": 1.0}, "vaegan": {"kl_weight": 0.01}}
    assert parse_params({"model": own_settings("model", old_model, "rgan"), "train": own_settings("train", old_train, "rgan")}) == Params()
    assert "timegan" in own_settings("train", old_train, "timegan") and "vaegan" not in own_settings("train", old_train, "timegan")
