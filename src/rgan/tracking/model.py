"""Log a generator file as an MLflow pyfunc model (see generator_model.py) into a run."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import rgan
from rgan.sampling import SEQUENCE_ID, STEP, load_generator
from rgan.tracking.generator_model import GENERATOR_ARTIFACT

MODEL_CODE = Path(__file__).with_name("model_code.py")
# What `predict` imports, pinned to this environment's versions (MLflow's inference of them costs ~10 s).
REQUIREMENTS = ["mlflow", "torch", "numpy", "pandas", "pydantic", "pyyaml"]


def pip_requirements() -> list[str]:
    return [f"{name}=={version(name).split('+')[0]}" for name in REQUIREMENTS]


def _label_type(labels: list) -> str:
    if all(isinstance(v, bool) for v in labels):
        return "boolean"
    return "long" if all(isinstance(v, int) for v in labels) else "string"


def signature(columns: list[str], categories: dict[str, list] | None = None, attributes: list[str] = ()):
    """Output `columns` are doubles, except categorical ones (`categories`), which hold their labels (text, whole
    numbers or booleans). Each attribute is also an optional input column and param: a condition."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    categories = categories or {}

    def type_of(column: str) -> str:
        return _label_type(categories[column]) if column in categories else "double"

    values = [ColSpec(type_of(c), c) for c in columns]
    conditions = [ColSpec(type_of(a), a, required=False) for a in attributes]
    return ModelSignature(
        inputs=Schema([ColSpec("long", "n", required=False), ColSpec("long", "seed", required=False), *conditions]),
        outputs=Schema([ColSpec("long", SEQUENCE_ID), ColSpec("long", STEP)] + values),
        params=ParamSchema([ParamSpec("n", "long", None), ParamSpec("seed", "long", 0), ParamSpec("seq_len", "long", None),
                            *(ParamSpec(a, type_of(a), None) for a in attributes)]),
    )


def log_generator(run_id: str, generator_path: str | Path, metadata: dict) -> tuple[str, str]:
    """Log the generator into run `run_id`; returns (model URI, model id)."""
    import mlflow
    import pandas as pd

    generator = load_generator(generator_path)  # fails here, with a clear message, on a damaged file
    with tempfile.TemporaryDirectory() as scratch:
        # Ship the package the model runs (not its caches) so it loads where rgan is not installed.
        code = Path(scratch) / "rgan"
        shutil.copytree(Path(rgan.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            # The signature below is explicit; MLflow's hint to add type hints for inferring one does not apply.
            warnings.filterwarnings("ignore", message="Add type hints", category=UserWarning)
            info = mlflow.pyfunc.log_model(
                name="generator",
                python_model=str(MODEL_CODE),
                artifacts={GENERATOR_ARTIFACT: str(generator_path)},
                code_paths=[str(code)],
                signature=signature(generator.output_columns, generator.scaler.categories, generator.scaler.attributes),
                input_example=pd.DataFrame({"n": [2], "seed": [0]}),
                pip_requirements=pip_requirements(),
                metadata={**metadata, "columns": generator.output_columns, "seq_len": generator.seq_len},
            )
    return info.model_uri, info.model_id
