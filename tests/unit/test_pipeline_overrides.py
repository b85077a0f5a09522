"""`rgan pipeline ... --param SECTION.KEY=VALUE`: dotted overrides applied to the params, validated, and carried to
KFP as the one params document (plus the re-planned trials when a tune setting changes)."""

import json

import pytest

from rgan.config import Params
from rgan.errors import RganError
from rgan.kubeflow.pipeline import apply_overrides


def test_no_override_sends_no_argument():
    params, arguments = apply_overrides(Params(), [], sweep=False)
    assert params == Params() and arguments == {}


def test_a_dotted_override_reaches_the_document_with_its_type():
    params, arguments = apply_overrides(Params(), ["train.steps=500", "train.grad_clip=null", "data.columns=[a, b]"], sweep=False)
    assert (params.train.steps, params.train.grad_clip, params.data.columns) == (500, None, ["a", "b"])
    document = json.loads(arguments["params"])
    assert document["train"]["steps"] == 500 and document["train"]["grad_clip"] is None  # an int stays an int, null stays null
    assert set(arguments) == {"params"}


def test_source_keys_set_the_kubeflow_source_and_nested_keys_reach_their_group():
    params, _ = apply_overrides(Params(), ["source.uri=s3://bucket/prices.csv", "data.sines.dim=3"], sweep=False)
    assert params.kubeflow.source.uri == "s3://bucket/prices.csv" and params.data.sines.dim == 3


def test_a_kind_override_switches_to_that_kinds_settings_first():
    params, _ = apply_overrides(Params(), ["model.kind=timegan", "train.timegan.gamma=2", "model.latent_dim=8"], sweep=False)
    assert (params.model.kind, params.train.timegan.gamma, params.model.latent_dim) == ("timegan", 2.0, 8)


def test_a_tune_override_replans_the_sweeps_trials():
    params, arguments = apply_overrides(Params(), ["tune.trials=3"], sweep=True)
    assert params.tune.trials == 3 and len(arguments["configurations"]) == 3
    assert all(isinstance(json.loads(c), dict) for c in arguments["configurations"])


@pytest.mark.parametrize("assignment, sweep, message", [
    ("train.steps=0", False, "train.steps: Input should be greater than or equal to 1"),
    ("train.stepz=5", False, "unknown key 'train.stepz'"),
    ("tune.trials=3", False, "--param tune.trials: not a pipeline parameter (allowed: data, model, train, evaluate, mlflow, registry, source"),
    ("kubeflow.image=x", True, "--param kubeflow.image: not a pipeline parameter"),
    ("train", False, "expected KEY=VALUE"),
    ("train.steps.x=1", False, "steps is not a group of settings"),
    ("train.steps=[1", False, "value is not valid YAML"),
    ("model.latent_dim=8", False, "model.latent_dim is not used by model.kind rgan"),
    ("tune.sampler=tpe", True, "the Kubeflow sweep trains its trials in parallel, so it needs tune.sampler: random"),
])
def test_bad_overrides_name_the_key(assignment, sweep, message):
    with pytest.raises(RganError) as caught:
        apply_overrides(Params(), [assignment], sweep=sweep)
    assert message in str(caught.value)
