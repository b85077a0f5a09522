"""The stage contract: what each pipeline stage reads and writes, and which settings it reads. One description,
used by the CLI (its default paths) and by the Kubeflow steps (the file names inside their artifacts); a test checks
dvc.yaml against it stage by stage (command, deps, params, outputs).

Plain data and the standard library only: the CLI reads it to build `rgan --help`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

# Every stage depends on the whole package: a hand-picked list of modules goes stale as code moves.
CODE = "src/rgan"


@dataclass(frozen=True)
class Stage:
    name: str
    command: str  # the rgan subcommand
    params: tuple[str, ...]  # params.yaml sections or section.key settings the stage reads
    inputs: dict[str, str] = field(default_factory=dict)  # CLI option -> path read (data.path: a setting, not an option)
    outputs: dict[str, str] = field(default_factory=dict)  # CLI option -> path written

    def path(self, option: str) -> str:
        return {**self.inputs, **self.outputs}[option]

    def file_name(self, option: str) -> str:
        """The name of an input or output inside a Kubeflow artifact directory (the same file the DVC stage writes)."""
        return PurePosixPath(self.path(option)).name

    def command_line(self) -> str:
        """The DVC stage's command: the subcommand with every path option spelled out."""
        options = [f"{opt} {path}" for opt, path in {**self.inputs, **self.outputs}.items() if opt.startswith("--")]
        return " ".join(["rgan", self.command, *options])


SINES = Stage("sines", "make-sines", ("data.sines",), outputs={"--out": "data/raw/sines.parquet"})
ENTITIES = Stage("entities", "make-entities", ("data.entities",), outputs={"--out": "data/raw/entities.parquet"})
PREPARE = Stage(
    "prepare", "prepare",
    ("data.path", "data.columns", "data.categorical_columns", "data.attribute_columns", "data.time_column", "data.time_format", "data.sequence_column", "data.missing",
     "data.mode", "data.max_len", "data.min_len", "data.long_sequences",
     "data.seq_len", "data.stride", "data.split", "data.val_fraction", "data.test_fraction", "data.seed"),
    inputs={"data.path": "${data.path}"},
    outputs={"--out": "data/prepared"},
)
TRAIN = Stage(
    "train", "train", ("model", "train", "mlflow.experiment", "mlflow.dataset"),
    inputs={"--prepared": PREPARE.path("--out")},
    outputs={"--generator": "models/generator.pt", "--checkpoints": "models/checkpoints", "--log": "metrics/train_log.tsv",
             "--metrics": "metrics/train.json", "--run-file": "models/mlflow_run.json"},
)
EVALUATE = Stage(
    "evaluate", "evaluate", ("evaluate",),
    inputs={"--prepared": PREPARE.path("--out"), "--generator": TRAIN.path("--generator"),
            "--train-log": TRAIN.path("--log"), "--run-file": TRAIN.path("--run-file")},
    outputs={"--metrics": "metrics/eval.json", "--plots": "plots"},
)
REGISTER = Stage(
    "register", "register", ("registry",),
    inputs={"--run-file": TRAIN.path("--run-file"), "--metrics": EVALUATE.path("--metrics")},
    outputs={"--out": "metrics/registry.json"},
)

STAGES: dict[str, Stage] = {s.name: s for s in (SINES, ENTITIES, PREPARE, TRAIN, EVALUATE, REGISTER)}
