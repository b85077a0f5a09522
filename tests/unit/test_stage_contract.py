"""dvc.yaml spells out the stage contract (rgan.stages) exactly: each stage's command, deps, params and outputs."""

import pytest
import yaml
from conftest import ROOT

from rgan.config import Params
from rgan.stages import CODE, STAGES

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _paths(entries) -> list[str]:
    # a dvc.yaml list entry is a path, or {path: options}
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries or []]


def test_dvc_yaml_has_exactly_the_contracts_stages():
    assert list(DVC) == list(STAGES)


@pytest.mark.parametrize("name", list(STAGES))
def test_dvc_stage_matches_the_contract(name):
    stage, dvc = STAGES[name], DVC[name]
    assert " ".join(dvc["cmd"].split()) == stage.command_line()
    assert _paths(dvc.get("deps")) == [*stage.inputs.values(), CODE]
    assert dvc["params"] == list(stage.params)
    written = _paths(dvc.get("outs")) + _paths(dvc.get("metrics")) + _paths(dvc.get("plots"))
    assert sorted(written) == sorted(stage.outputs.values())


def test_contract_params_are_real_settings():
    dumped = Params().model_dump()
    for stage in STAGES.values():
        for key in stage.params:
            node = dumped
            for part in key.split("."):
                assert part in node, f"stage {stage.name}: {key} is not a setting"
                node = node[part]


def test_each_input_is_an_earlier_stages_output():
    written: set[str] = set()
    for stage in STAGES.values():
        for option, path in stage.inputs.items():
            assert option == "data.path" or path in written, f"{stage.name} reads {path}, which no earlier stage writes"
        written |= set(stage.outputs.values())


def test_cli_defaults_are_the_contracts_paths():
    from rgan.cli import build_parser

    parser = build_parser()
    for stage in STAGES.values():
        args = parser.parse_args([stage.command])
        for option, path in {**stage.inputs, **stage.outputs}.items():
            if option.startswith("--"):
                assert getattr(args, option[2:].replace("-", "_")) == path, (stage.command, option)
