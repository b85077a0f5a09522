"""Typed, validated settings loaded from params.yaml: the one source of every setting.

Validation happens once, here, before any work: an unknown key, a wrong type or an impossible value
raises RganError naming the key and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from rgan.errors import RganError

DEFAULT_PARAMS = "params.yaml"

PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"
DEVICE_CHOICES = "allowed: auto, cpu, cuda or cuda:N"


def _check_device(value: str) -> str:
    if not re.fullmatch(DEVICE_PATTERN, value):
        raise ValueError(DEVICE_CHOICES)
    return value


Device = Annotated[str, AfterValidator(_check_device)]


class _Section(BaseModel):
    # strict: "5" is not an int and 1 is not a bool; YAML already gives real types.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SinesConfig(_Section):
    """The built-in default dataset (TimeGAN's sines): independent sequences, each feature sin(f*t + p)."""

    n_sequences: PositiveInt = 10000
    length: Annotated[int, Field(ge=2)] = 24
    dim: PositiveInt = 5
    seed: int = 0


class DataConfig(_Section):
    path: str = "data/raw/sines.parquet"
    columns: list[str] | None = Field(default=None, description="feature columns; default: all numeric")
    time_column: str | None = None
    sequence_column: str | None = Field(default=None, description="id column; windows never cross ids")
    missing: Literal["error", "drop", "ffill"] = "error"
    seq_len: Annotated[int, Field(ge=2)] = 24
    stride: PositiveInt = 1
    split: Literal["time", "random"] = "time"
    val_fraction: Fraction = 0.1
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    seed: int = 0
    sines: SinesConfig = SinesConfig()

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> "DataConfig":
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 (got {self.val_fraction} + {self.test_fraction})"
            )
        special = {self.time_column, self.sequence_column} - {None}
        if self.columns is not None:
            if not self.columns:
                raise ValueError("columns must name at least one column, or be null for all numeric columns")
            if len(set(self.columns)) != len(self.columns):
                raise ValueError(f"columns has duplicates: {self.columns}")
            if special & set(self.columns):
                raise ValueError(f"columns must not include the time or sequence column: {sorted(special)}")
        return self


class ModelConfig(_Section):
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    hidden: PositiveInt = 64
    layers: PositiveInt = 2
    z_dim: PositiveInt = Field(default=8, description="noise drawn afresh at every step")
    z_global_dim: Annotated[int, Field(ge=0)] = Field(default=0, description="noise drawn once per sequence")
    discriminator_hidden: PositiveInt | None = Field(default=None, description="default: hidden")
    discriminator_layers: PositiveInt | None = Field(default=None, description="default: layers")
    bidirectional_discriminator: bool = False


class TrainConfig(_Section):
    steps: PositiveInt = 3000
    batch_size: PositiveInt = 128
    loss: Literal["bce", "wgan-gp"] = "bce"
    g_lr: PositiveFloat = 1e-3
    d_lr: PositiveFloat = 1e-3
    betas: Annotated[list[Fraction], Field(min_length=2, max_length=2)] = [0.5, 0.999]
    d_steps: PositiveInt = Field(default=1, description="discriminator (critic) steps per generator step")
    gp_lambda: Annotated[float, Field(ge=0)] = 10.0
    moment_weight: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="weight of the generator's mean/std matching term (TimeGAN's moment loss)"
    )
    grad_clip: PositiveFloat | None = Field(default=None, description="max gradient norm; null: no clipping")
    ema_decay: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        default=None, description="ship an exponential moving average of generator weights; null: the last weights"
    )
    seed: int = 0
    device: Device = "auto"
    threads: PositiveInt | None = Field(default=None, description="torch CPU threads; null: torch's default")
    log_every: PositiveInt = 10
    checkpoint_every: PositiveInt = 500


class EvaluateConfig(_Section):
    repeats: PositiveInt = 3
    discriminative_iterations: PositiveInt = 2000
    predictive_iterations: PositiveInt = 5000
    batch_size: PositiveInt = 128
    max_windows: PositiveInt = Field(default=5000, description="cap on real test windows (and as many synthetic)")
    acf_lags: PositiveInt = 10
    memorization_threshold: PositiveFloat = Field(
        default=0.5, description="synthetic-to-train / test-to-train nearest-neighbour distance ratio must exceed this"
    )
    plot_samples: Annotated[int, Field(ge=10)] = 1000
    seed: int = 0
    device: Device = "auto"
    workers: PositiveInt | None = Field(default=None, description="parallel processes for post-hoc models on CPU; null: one per core")


# Scores `evaluate` writes; the registry ranks and gates versions by them.
NumericScore = Literal["discriminative", "predictive", "predictive_real", "marginal_w1", "autocorr_diff", "memorization_ratio"]
NUMERIC_SCORES: tuple[str, ...] = NumericScore.__args__
BOOLEAN_SCORES = ("memorization_pass",)


class MlflowConfig(_Section):
    """Tracking. The server is MLFLOW_TRACKING_URI when set, else sqlite:///mlflow.db: never a setting here,
    so credentials stay in the environment."""

    experiment: Annotated[str, Field(min_length=1)] = "rgan"
    dataset: str | None = Field(default=None, description="dataset name on runs and versions; null: data.path's file name")
    request_timeout_s: PositiveFloat = Field(default=10.0, description="per HTTP request to a tracking server")
    request_retries: Annotated[int, Field(ge=0)] = Field(default=2, description="retries of a failed HTTP request")


class Bounds(_Section):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Bounds":
        if self.min is None and self.max is None:
            raise ValueError("a gate needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


def _check_gates(gates: dict) -> dict:
    for name, rule in gates.items():
        if name in BOOLEAN_SCORES:
            if not isinstance(rule, bool):
                raise ValueError(f"gate {name} takes true or false (got {rule!r})")
        elif name in NUMERIC_SCORES:
            if not isinstance(rule, Bounds):
                raise ValueError(f"gate {name} takes {{min: x, max: y}} (got {rule!r})")
        else:
            raise ValueError(f"unknown score '{name}' (allowed: {', '.join(NUMERIC_SCORES + BOOLEAN_SCORES)})")
    return gates


class RegistryConfig(_Section):
    model_name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "rgan-generator"
    metric: NumericScore = Field(default="discriminative", description="score that ranks versions for `champion`")
    direction: Literal["minimize", "maximize"] = "minimize"
    gates: Annotated[dict[str, bool | Bounds], AfterValidator(_check_gates)] = Field(
        default_factory=lambda: {"memorization_pass": True},
        description="what a version must meet to become champion: memorization_pass: true, or score: {min, max}",
    )
    auto_promote: bool = Field(default=True, description="false: register and mark `challenger`; a person promotes")


class Params(_Section):
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    mlflow: MlflowConfig = MlflowConfig()
    registry: RegistryConfig = RegistryConfig()


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where `1e-3` is a string; DVC (YAML 1.2) reads it as a float. Agree with DVC."""


# Only numbers with an exponent and no dot (1e-3, 2E+5): PyYAML already reads every other float form.
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Yaml12Loader)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return list(model.model_fields)


def _describe(error: dict, source: str) -> str:
    loc = error["loc"]
    key = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(Params, loc))
        return f"{source}: unknown key '{key}' (allowed here: {allowed})"
    given = error.get("input")
    shown = "" if isinstance(given, dict) else f" (got {given!r})"
    msg = error["msg"].removeprefix("Value error, ")
    return f"{source}: {key}: {msg}{shown}"


def parse_params(raw: Any, source: str = DEFAULT_PARAMS) -> Params:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RganError(f"{source}: expected a mapping of sections (data, model, train, evaluate, mlflow, registry), got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(e, source) for e in exc.errors()]
        raise RganError("invalid params:\n  " + "\n  ".join(lines)) from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    if not path.is_file():
        raise RganError(f"params file not found: {path}")
    try:
        raw = read_yaml(path)
    except yaml.YAMLError as exc:
        raise RganError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, str(path))
