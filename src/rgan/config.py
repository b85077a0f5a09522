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
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from rgan.errors import RganError
from rgan.notes import note

DEFAULT_PARAMS = "params.yaml"

PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

# Bounds on every size a user chooses: checked before any work, so a typo fails in a line, not in an
# allocation error or a month-long run. Generous for real use; tighten nothing silently.
SEED_MAX = 2**32 - 1  # numpy's and torch's seeds both take it; train derives seed + 1 for the noise
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Width = Annotated[int, Field(ge=1, le=4096)]  # hidden sizes and noise dimensions
Layers = Annotated[int, Field(ge=1, le=16)]
Count = Annotated[int, Field(ge=1, le=100_000_000)]  # steps, iterations, intervals
Batch = Annotated[int, Field(ge=1, le=65_536)]
Weight = Annotated[float, Field(ge=0, le=1e6)]
LearningRate = Annotated[float, Field(gt=0, le=1.0)]
SEQ_LEN_MAX = 10_000
# activations of one recurrent layer for one batch (batch x seq_len x hidden): above this a step needs
# gigabytes, which is a typo far more often than a plan
ACTIVATIONS_MAX = 2**30


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

    n_sequences: Annotated[int, Field(ge=1, le=10_000_000)] = 10000
    length: Annotated[int, Field(ge=2, le=100_000)] = 24
    dim: Annotated[int, Field(ge=1, le=1000)] = 5
    seed: Seed = 0


class EntitiesConfig(_Section):
    """The built-in per-entity dataset: machines of three classes, each with its own length, a static size, a numeric
    signal and a categorical state whose dynamics depend on the class."""

    n_entities: Annotated[int, Field(ge=3, le=100_000)] = 600
    seed: Seed = 0


def _check_time_format(value: str) -> str:
    if "%" not in value:
        raise ValueError("has no % directive: give strftime codes such as %d/%m/%Y %H:%M")
    return value


class DataConfig(_Section):
    path: str = "data/raw/sines.parquet"
    columns: list[str] | None = Field(default=None, description="feature columns; default: all numeric")
    categorical_columns: list[str] = Field(
        default_factory=list, description="categorical columns (text or integer codes), features or attributes: one-hot "
        "for the networks, generated as a softmax, written back as their labels")
    attribute_columns: list[str] = Field(
        default_factory=list, description="static per-entity columns (one value per sequence_column value): the generator "
        "is conditioned on them, `rgan sample --condition` sets them; text columns and those in categorical_columns are "
        "categorical, the rest numeric")
    time_column: str | None = Field(default="step", description="rows are sorted by it (numbers or dates); null: file order")
    time_format: Annotated[str, AfterValidator(_check_time_format)] | None = Field(
        default=None, description="strftime format of text dates in time_column (e.g. %d/%m/%Y); null: ISO 8601 or inferred when unambiguous")
    sequence_column: str | None = Field(default="sequence_id", description="id column; windows never cross ids")
    missing: Literal["error", "drop", "ffill"] = "error"
    mode: Literal["windows", "sequences"] = Field(
        default="windows", description="windows: fixed-length windows of seq_len; sequences: each entity one sequence of its own length")
    max_len: Annotated[int, Field(ge=2, le=SEQ_LEN_MAX)] = Field(default=64, description="sequences mode: the longest sequence")
    min_len: Annotated[int, Field(ge=1, le=SEQ_LEN_MAX)] = Field(default=2, description="sequences mode: shorter ones are left out")
    long_sequences: Literal["split", "truncate"] = Field(
        default="split", description="sequences mode, longer than max_len: split into consecutive pieces, or truncate")
    seq_len: Annotated[int, Field(ge=2, le=SEQ_LEN_MAX)] = 24
    stride: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    split: Literal["time", "random"] = "random"
    val_fraction: Fraction = 0.1
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    seed: Seed = 0
    sines: SinesConfig = SinesConfig()
    entities: EntitiesConfig = EntitiesConfig()

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> "DataConfig":
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1 (got {self.val_fraction} + {self.test_fraction})"
            )
        if self.time_column is not None and self.time_column == self.sequence_column:
            raise ValueError(f"time_column and sequence_column are both '{self.time_column}': they must differ")
        special = {self.time_column, self.sequence_column} - {None}
        if self.columns is not None:
            if not self.columns:
                raise ValueError("columns must name at least one column, or be null for all numeric columns")
            if len(set(self.columns)) != len(self.columns):
                raise ValueError(f"columns has duplicates: {self.columns}")
            if special & set(self.columns):
                raise ValueError(f"columns must not include the time or sequence column: {sorted(special)}")
        categorical = self.categorical_columns
        if len(set(categorical)) != len(categorical):
            raise ValueError(f"categorical_columns has duplicates: {categorical}")
        if special & set(categorical):
            raise ValueError(f"categorical_columns must not include the time or sequence column: {sorted(special)}")
        both = sorted(set(categorical) & set(self.columns or []))
        if both:
            raise ValueError(f"{both} in both columns and categorical_columns: columns lists the numeric ones")
        if self.mode == "sequences":
            if self.sequence_column is None:
                raise ValueError("mode sequences makes each entity one sequence: set sequence_column to the column naming each entity")
            if self.min_len > self.max_len:
                raise ValueError(f"min_len {self.min_len} is above max_len {self.max_len}")
            if self.split != "random":
                raise ValueError("mode sequences splits whole sequences at random into train/val/test: set split: random")
        attributes = self.attribute_columns
        if len(set(attributes)) != len(attributes):
            raise ValueError(f"attribute_columns has duplicates: {attributes}")
        if attributes and self.sequence_column is None:
            raise ValueError("attribute_columns are per entity: set sequence_column to the column naming each entity")
        if special & set(attributes):
            raise ValueError(f"attribute_columns must not include the time or sequence column: {sorted(special)}")
        both = sorted(set(attributes) & set(self.columns or []))
        if both:
            raise ValueError(f"{both} in both columns and attribute_columns: a column is a feature or an attribute")
        return self


KINDS = ("rgan", "timegan", "vaegan")


class _ModelBase(_Section):
    kind: str  # each kind's class narrows it (declared here so it comes first in params.yaml and `rgan params`)
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    hidden: Width = 32
    layers: Layers = 1


def _check_scales(scales: list[int]) -> list[int]:
    if scales[0] != 1 or any(later <= earlier for earlier, later in zip(scales, scales[1:])):
        raise ValueError(f"{scales}: must start with 1 (the per-step discriminator) and rise, e.g. [1, 4]")
    return scales


# Multi-scale discriminators (as in MelGAN / pix2pixHD, over time): scale k judges the means of k consecutive steps
Scales = Annotated[list[Annotated[int, Field(ge=1, le=SEQ_LEN_MAX)]], Field(min_length=1, max_length=4), AfterValidator(_check_scales)]
SCALES_DESCRIPTION = ("time scales the discriminator judges, each by a recurrent network and loss of its own: 1 = every step, "
                      "k = the means of k consecutive steps; [1] = one discriminator, [1, 4] = one more over 4-step means")


# The settings each kind reads, as fields on that kind's class: a setting a kind would ignore is refused, naming the kind.
class RganModelConfig(_ModelBase):
    """rgan: a recurrent generator against a recurrent discriminator (RGAN / RCGAN, Esteban et al. 2017)."""

    kind: Literal["rgan"] = "rgan"
    z_dim: Width = Field(default=1, description="noise drawn afresh at every step")
    z_global_dim: Annotated[int, Field(ge=0, le=4096)] = Field(default=16, description="noise drawn once per sequence")
    discriminator_hidden: Width | None = Field(default=None, description="default: hidden")
    discriminator_layers: Layers | None = Field(default=None, description="default: layers")
    bidirectional_discriminator: bool = False
    discriminator_scales: Scales = Field(default=[1], description=SCALES_DESCRIPTION)


class TimeGanModelConfig(_ModelBase):
    """timegan: embedder, recovery, generator, supervisor and a latent discriminator (Yoon et al. 2019)."""

    kind: Literal["timegan"]
    z_dim: Width = Field(default=1, description="noise drawn afresh at every step")
    z_global_dim: Annotated[int, Field(ge=0, le=4096)] = Field(default=16, description="noise drawn once per sequence")
    discriminator_layers: Layers | None = Field(default=None, description="default: layers")
    latent_dim: Width | None = Field(default=None, description="embedding size per step; null = hidden")


class VaeGanModelConfig(_ModelBase):
    """vaegan: a recurrent VAE whose decoder is the generator, plus a recurrent discriminator."""

    kind: Literal["vaegan"]
    latent_dim: Width | None = Field(default=None, description="latent size per step; null = hidden")
    discriminator_hidden: Width | None = Field(default=None, description="default: hidden")
    discriminator_layers: Layers | None = Field(default=None, description="default: layers")
    bidirectional_discriminator: bool = False
    discriminator_scales: Scales = Field(default=[1], description=SCALES_DESCRIPTION)


def _default_kind(value: Any) -> Any:
    # `kind` may be left out (rgan, as always); the union needs it to pick the settings class
    return {"kind": "rgan", **value} if isinstance(value, dict) and "kind" not in value else value


ModelConfig = Annotated[RganModelConfig | TimeGanModelConfig | VaeGanModelConfig,
                        BeforeValidator(_default_kind), Field(discriminator="kind")]
MODEL_CLASSES: dict[str, type[_ModelBase]] = {"rgan": RganModelConfig, "timegan": TimeGanModelConfig, "vaegan": VaeGanModelConfig}


def own_settings(section: str, record: dict, kind: str) -> dict:
    """A model or train record of model kind `kind` (a generator file's, a checkpoint's) with only the settings that
    kind reads: files written before each kind had its own settings (rgan 0.1) record every kind's fields."""
    fields = {"model": MODEL_CLASSES, "train": TRAIN_CLASSES}[section].get(kind, MODEL_CLASSES["rgan"]).model_fields
    return {k: v for k, v in record.items() if k in fields and not fields[k].exclude}


def parse_model(raw: Any) -> RganModelConfig | TimeGanModelConfig | VaeGanModelConfig:
    """A model section on its own (a generator file's record of the model it holds)."""
    return TypeAdapter(ModelConfig).validate_python(raw)


class TimeGanPhases(_Section):
    """TimeGAN's three phases (train.steps counts all of them) and loss weights, as in the paper's code."""

    autoencoder_steps: Annotated[int, Field(ge=0, le=100_000_000)] = Field(default=1000, description="phase 1: embedder + recovery")
    supervised_steps: Annotated[int, Field(ge=0, le=100_000_000)] = Field(default=1000, description="phase 2: next step in latent space")
    gamma: Weight = Field(default=1.0, description="weight of the adversarial loss on supervised latents")
    supervised_weight: Weight = Field(default=100.0, description="weight of sqrt(supervised loss) in the generator loss")
    embedding_supervised_weight: Weight = Field(default=0.1, description="weight of the supervised loss in the joint embedder update")


class VaeGanWeights(_Section):
    reconstruction_weight: Weight = 1.0
    kl_weight: Weight = 0.01
    adversarial_weight: Weight = 1.0


class _TrainBase(_Section):
    steps: Count = 10000
    batch_size: Batch = Field(default=64, description="windows per step: 64 trains the default data as well as 128 at half the cost (README, Speed)")
    loss: Literal["bce", "wgan-gp"] = "bce"
    g_lr: LearningRate = 1e-3
    d_lr: LearningRate = 1e-3
    betas: Annotated[list[Fraction], Field(min_length=2, max_length=2)] = [0.5, 0.999]
    d_steps: Annotated[int, Field(ge=1, le=100)] = Field(default=3, description="discriminator (critic) steps per generator step")
    gp_lambda: Weight = 10.0
    moment_weight: Weight = Field(
        default=1.0, description="weight of the generator's mean/std matching term (TimeGAN's moment loss)"
    )
    spectral_weight: Weight = Field(
        default=0.0, description="weight of the generator's amplitude-spectrum matching term (FFT over time, batch mean); 0: off"
    )
    feature_matching_weight: Weight = Field(
        default=0.0, description="weight of the generator's feature-matching term (batch means of the discriminator's "
        "hidden features on real and generated windows, Salimans et al. 2016; TimeGAN: on its latents); 0: off")
    grad_clip: Annotated[float, Field(gt=0, le=1e6)] | None = Field(default=None, description="max gradient norm; null: no clipping")
    ema_decay: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        default=0.999, description="ship an exponential moving average of generator weights; null: the last weights"
    )
    seed: Seed = 0
    device: Device = "auto"
    threads: Annotated[int, Field(ge=1, le=1024)] | None = Field(
        default=1, description="torch CPU threads; null: the CPU quota (cores, lowered by a container's CPU limit). 1: the "
        "fastest per CPU for these nets, and robust when other work shares the cores (bench/concurrent_training.py)")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        default="fp32", description="fp32; bf16 or fp16: mixed precision on a GPU (autocast; fp16 with gradient scaling)")
    compile: bool = Field(default=False, description="torch.compile the networks (pays on GPUs, not on CPUs: see README)")
    log_every: Count = 20
    checkpoint_every: Count = 1000
    health_steps: Count = Field(
        default=1000, description="warn when the discriminator sits at chance or wins completely for this many steps")
    keep: Literal["best", "last"] = Field(
        default="best", description="the generator shipped: best = the lowest validation context-FID among the "
        "validations (train.validate_every), last = the final weights")
    validate_every: Count | None = Field(
        default=1000, description="steps between validations: context-FID of the network to ship on the validation "
        "windows, logged as val_context_fid (the last weights are scored at the end too); null: none, then train.keep must be last")
    validate_iterations: Count | None = Field(
        default=None, description="training iterations of the validation's context-FID encoder; null: TS2Vec's rule "
        "(200, or 600 above 100,000 values), as evaluate.context_fid_iterations")

    @model_validator(mode="after")
    def _best_needs_validations(self) -> "_TrainBase":
        if self.keep == "best" and self.validate_every is None:
            raise ValueError("keep best chooses among validations, and validate_every is null: set validate_every "
                             "(steps between validations), or keep: last")
        return self


AUGMENT_DESCRIPTION = (
    "DiffAugment (Zhao et al. 2020) for the discriminator: random transforms of real and generated windows alike in "
    "every discriminator pass, differentiable, so the generator is not taught them: jitter = + N(0, 0.03^2) per value, "
    "scale = x N(1, 0.1^2) per window and feature (values in [0, 1]); []: off")


def _each_once(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError(f"{names}: name each transform once")
    return names


Augment = Annotated[list[Literal["jitter", "scale"]], AfterValidator(_each_once)]


# The train section's class follows model.kind (copied in by Params, never written by users nor dumped): a kind's own
# sub-section (train.timegan, train.vaegan) is accepted only with that kind.
class RganTrainConfig(_TrainBase):
    kind: Literal["rgan"] = Field(default="rgan", exclude=True, repr=False)
    augment: Augment = Field(default=[], description=AUGMENT_DESCRIPTION)


class TimeGanTrainConfig(_TrainBase):
    kind: Literal["timegan"] = Field(exclude=True, repr=False)
    timegan: TimeGanPhases = TimeGanPhases()


class VaeGanTrainConfig(_TrainBase):
    kind: Literal["vaegan"] = Field(exclude=True, repr=False)
    augment: Augment = Field(default=[], description=AUGMENT_DESCRIPTION)
    vaegan: VaeGanWeights = VaeGanWeights()


TrainConfig = Annotated[RganTrainConfig | TimeGanTrainConfig | VaeGanTrainConfig, Field(discriminator="kind")]
TRAIN_CLASSES: dict[str, type[_TrainBase]] = {"rgan": RganTrainConfig, "timegan": TimeGanTrainConfig, "vaegan": VaeGanTrainConfig}


class EvaluateConfig(_Section):
    repeats: Annotated[int, Field(ge=1, le=100)] = 3
    discriminative_iterations: Count = 2000
    predictive_iterations: Count = 5000
    context_fid_iterations: Count | None = Field(default=None, description="training iterations of context-FID's encoder; null: TS2Vec's rule (200, or 600 above 100,000 values)")
    batch_size: Batch = 128
    max_windows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(default=5000, description="cap on real test windows (and as many synthetic)")
    real_windows: Literal["test", "all"] = Field(
        default="test", description="the real side of the fidelity scores: the held-out test windows, or every window of "
        "the data (the TimeGAN reference code's protocol, for comparing with published scores; privacy scores keep the test windows)")
    acf_lags: Annotated[int, Field(ge=1, le=SEQ_LEN_MAX)] = 10
    memorization_threshold: PositiveFloat = Field(
        default=0.5, description="synthetic-to-train / test-to-train nearest-neighbour distance ratio must exceed this"
    )
    plot_samples: Annotated[int, Field(ge=10, le=100_000)] = 1000
    seed: Seed = 0
    device: Device = "auto"
    workers: Annotated[int, Field(ge=1, le=1024)] | None = Field(default=None, description="parallel processes for post-hoc models on CPU; null: one per CPU of the quota")


# Scores `evaluate` writes; the registry ranks and gates versions by them.
NumericScore = Literal["discriminative", "discriminative_floor", "discriminative_ratio", "predictive", "predictive_real",
                       "predictive_ratio", "marginal_w1", "autocorr_diff", "memorization_ratio", "category_tv", "attribute_distance",
                       "length_w1", "discriminative_worst_condition", "correlational", "dcr_share", "membership_auc",
                       "context_fid", "context_fid_floor"]
NUMERIC_SCORES: tuple[str, ...] = NumericScore.__args__
BOOLEAN_SCORES = ("memorization_pass",)


class MlflowConfig(_Section):
    """Tracking. The server is MLFLOW_TRACKING_URI when set, else sqlite:///mlflow.db: never a setting here,
    so credentials stay in the environment."""

    experiment: Annotated[str, Field(min_length=1)] = "rgan"
    dataset: str | None = Field(default=None, description="dataset name on runs and versions; null: data.path's file name")
    request_timeout_s: Annotated[float, Field(gt=0, le=3600)] = Field(default=10.0, description="per HTTP request to a tracking server")
    request_retries: Annotated[int, Field(ge=0, le=10)] = Field(default=2, description="retries of a failed HTTP request (MLflow allows at most 10)")


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


K8S_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"
Quantity = Annotated[str, Field(pattern=K8S_QUANTITY, description="a Kubernetes quantity: 500m, 2, 8Gi")]


class StepResources(_Section):
    """What one pipeline step asks of its node: CPU and memory (requested and limited), and accelerators."""

    cpu: Quantity = "2"
    memory: Quantity = "4Gi"
    gpu: Annotated[int, Field(ge=0)] = Field(default=0, description="accelerators (limit); 0: none")
    accelerator: Annotated[str, Field(min_length=1)] = "nvidia.com/gpu"


PIPELINE_STEPS = ("prepare", "train", "evaluate", "select", "register")
PipelineStep = Literal["prepare", "train", "evaluate", "select", "register"]
DEFAULT_RESOURCES = {
    "prepare": {"cpu": "2", "memory": "8Gi"},
    "train": {"cpu": "4", "memory": "16Gi", "gpu": 1},
    "evaluate": {"cpu": "8", "memory": "16Gi", "gpu": 1},
    "select": {"cpu": "500m", "memory": "1Gi"},
    "register": {"cpu": "1", "memory": "2Gi"},
}


def _fill_resources(value: Any) -> Any:
    # A step left out keeps its defaults; a step given replaces them key by key.
    if not isinstance(value, dict):
        return value
    return {step: {**DEFAULT_RESOURCES[step], **(value.get(step) or {})} if step in DEFAULT_RESOURCES else value[step]
            for step in {**DEFAULT_RESOURCES, **value}}


class Toleration(_Section):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoExecute", "NoSchedule", "PreferNoSchedule"] | None = None


class DataSource(_Section):
    """Where the cluster pipeline reads data.path from: a DVC repository at a git revision, or an object-store URI."""

    repo: str | None = Field(default=None, description="git URL of a DVC repository holding data.path")
    rev: str | None = Field(default=None, description="git revision of repo (branch, tag, commit); null: the default branch")
    uri: str | None = Field(default=None, description="s3://, gs://, https://, file:// ...; null: data.path itself")

    @model_validator(mode="after")
    def _one_source(self) -> "DataSource":
        if self.repo and self.uri:
            raise ValueError("set repo (a DVC repository) or uri (an object-store file), not both")
        if self.rev and not self.repo:
            raise ValueError("rev needs repo")
        return self


class SweepConfig(_Section):
    """`rgan pipeline ... --sweep`: the trials of the `tune` search (tune.sampler random), trained in parallel."""

    parallelism: Annotated[int, Field(ge=1, le=1000)] = Field(default=2, description="trials trained at once")


class KubeflowConfig(_Section):
    """The cluster pipeline (rgan pipeline compile/submit): image, secrets, resources, data source, sweep."""

    image: Annotated[str, Field(min_length=1)] = "ghcr.io/example/rgan:0.1.0"
    pipeline_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")] = "rgan"
    mlflow_secret: Annotated[str, Field(min_length=1)] = Field(
        default="mlflow-tracking", description="Kubernetes secret: MLFLOW_TRACKING_URI and optional credentials")
    storage_secret: str | None = Field(default=None, description="Kubernetes secret with object-store credentials (AWS_*)")
    resources: Annotated[dict[PipelineStep, StepResources], BeforeValidator(_fill_resources)] = Field(
        default_factory=lambda: _fill_resources({}), validate_default=True, description="per step: cpu, memory, gpu, accelerator")
    gpu_node_selector: dict[str, str] = Field(default_factory=dict, description="labels GPU nodes must carry")
    gpu_tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
        description="taints of GPU node pools to tolerate (GPU node pools are usually tainted)")
    source: DataSource = DataSource()
    sweep: SweepConfig = SweepConfig()


# Settings `rgan tune` (and the Kubeflow sweep) may vary; data, evaluation and the registry stay fixed so trials compare.
TUNABLE_SECTIONS = ("model", "train")
UNTUNABLE = {"train.steps", "train.seed", "train.device", "train.threads", "train.precision", "train.compile", "train.log_every",
             "train.checkpoint_every", "train.health_steps", "model.kind"}
Choice = str | bool | int | float | None


class SearchDimension(_Section):
    """One setting's range: {low, high} (log: true samples on a log scale), or {choices: [...]}."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: Annotated[list[Choice], Field(min_length=1, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> "SearchDimension":
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high, or choices")
        if not self.low < self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        return self


def _check_space(space: dict) -> dict:
    for key in space:
        section, _, name = key.partition(".")
        if section not in TUNABLE_SECTIONS or not name or "." in name:
            raise ValueError(f"'{key}' is not a setting that can be tuned (allowed: model.<setting> or train.<setting>)")
        if key in UNTUNABLE:
            raise ValueError(f"'{key}' cannot be tuned: trials must share it ({', '.join(sorted(UNTUNABLE))} are fixed)")
    return space


def setting_field(kind: str, key: str):
    """The field of a `model.<name>` or `train.<name>` setting for this model kind; None when the kind has no such setting."""
    section, _, name = key.partition(".")
    classes = {"model": MODEL_CLASSES, "train": TRAIN_CLASSES}.get(section)
    field = None if classes is None or name == "kind" else classes[kind].model_fields.get(name)
    # a group of settings (train.timegan) is not one setting: its own keys are
    return None if field is None or (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)) else field


def _default_space() -> dict:
    return {
        "train.d_lr": SearchDimension(low=2e-4, high=4e-3, log=True),
        "train.g_lr": SearchDimension(low=1e-4, high=2e-3, log=True),
        "train.moment_weight": SearchDimension(choices=[0.0, 0.3, 1.0]),
        "train.d_steps": SearchDimension(choices=[1, 2, 3]),
        "model.hidden": SearchDimension(choices=[32, 64]),
    }


class TuneConfig(_Section):
    """`rgan tune`: a search over model/train settings, each trial trained for `steps` and scored on the validation
    windows (discriminative score over its real-data floor)."""

    trials: Annotated[int, Field(ge=1, le=10_000)] = Field(default=12, description="trials in the search")
    steps: Count = Field(default=3000, description="training steps per trial (train.steps stays for the final run)")
    sampler: Literal["random", "tpe"] = Field(
        default="random", description="random: trials fixed by the seed (the Kubeflow sweep runs them in parallel); tpe: adaptive, local only")
    seed: Seed = 0
    repeats: Annotated[int, Field(ge=1, le=100)] = Field(default=2, description="validation scorings per trial (evaluate's classifier)")
    space: Annotated[dict[str, SearchDimension], Field(min_length=1), AfterValidator(_check_space)] = Field(
        default_factory=_default_space, description="setting -> {low, high, log} or {choices}")


class Params(_Section):
    data: DataConfig = DataConfig()
    model: ModelConfig = RganModelConfig()
    train: TrainConfig = RganTrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    mlflow: MlflowConfig = MlflowConfig()
    registry: RegistryConfig = RegistryConfig()
    tune: TuneConfig = TuneConfig()
    kubeflow: KubeflowConfig = KubeflowConfig()

    @model_validator(mode="before")
    @classmethod
    def _train_follows_model_kind(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        model, train = raw.get("model"), raw.get("train")
        kind = model.get("kind", "rgan") if isinstance(model, dict) else getattr(model, "kind", "rgan")
        if isinstance(train, _TrainBase):
            train = train.model_dump()
        if kind not in KINDS or not isinstance(train if train is not None else {}, dict):
            return raw  # the model section's error says what is wrong (parse_params drops train's echo of it)
        train = dict(train or {})
        if "kind" in train:
            raise ValueError("train.kind: not a setting (the model kind is model.kind)")
        return {**raw, "train": {**train, "kind": kind}}

    @model_validator(mode="after")
    def _checks_across_sections(self) -> "Params":
        m = self.model
        widest = max(m.hidden, getattr(m, "discriminator_hidden", None) or 0, getattr(m, "latent_dim", None) or 0)
        length = self.data.max_len if self.data.mode == "sequences" else self.data.seq_len
        activations = self.train.batch_size * length * widest
        if activations > ACTIVATIONS_MAX:
            raise ValueError(
                f"train.batch_size {self.train.batch_size} x data.{'max_len' if self.data.mode == 'sequences' else 'seq_len'} {length} x hidden {widest} = "
                f"{activations:,} activations per recurrent layer and batch, above the {ACTIVATIONS_MAX:,} allowed: lower one of them"
            )
        coarsest = max(getattr(m, "discriminator_scales", [1]))
        if coarsest > length:
            raise ValueError(f"model.discriminator_scales: scale {coarsest} is longer than data.{'max_len' if self.data.mode == 'sequences' else 'seq_len'} "
                             f"{length}: each scale must fit in a window")
        for key in self.tune.space:
            if setting_field(m.kind, key) is None:
                section = key.partition(".")[0]
                tunable = [n for n in _kind_settings(m.kind, section) if setting_field(m.kind, f"{section}.{n}")] if section in TUNABLE_SECTIONS else []
                raise ValueError(f"tune.space: '{key}' is not a setting of model.kind {m.kind} (its settings: {', '.join(tunable)})")
        return self

    def for_kind(self, kind: str) -> "Params":
        """These settings for another model kind: the settings both kinds read kept, the new kind's own at defaults,
        settings (and tune.space entries) the new kind does not read dropped."""
        raw = self.model_dump()
        raw["model"] = {k: v for k, v in raw["model"].items() if k in MODEL_CLASSES[kind].model_fields} | {"kind": kind}
        raw["train"] = {k: v for k, v in raw["train"].items() if k in TRAIN_CLASSES[kind].model_fields}
        kept = {k: v for k, v in raw["tune"]["space"].items() if setting_field(kind, k) is not None}
        default = {k: v.model_dump() for k, v in _default_space().items() if setting_field(kind, k) is not None}
        raw["tune"]["space"] = kept or default  # a search of only the old kind's settings: the default one
        return parse_params(raw, f"params for model.kind {kind}")

    def with_overrides(self, overrides: dict[str, dict]) -> "Params":
        """These params with some sections' settings replaced (a sweep configuration), validated again."""
        raw = self.model_dump()
        for section, values in overrides.items():
            raw[section] = {**raw[section], **values}
        return parse_params(raw, "overrides")


SECTIONS: tuple[str, ...] = tuple(Params.model_fields)


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where `1e-3` is a string; DVC (YAML 1.2) reads it as a float. Agree with DVC.
    A key given twice in one mapping is an error (PyYAML would keep the last value silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; PyYAML reports it below
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice (lines {first} and {key_node.start_mark.line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Only numbers with an exponent and no dot (1e-3, 2E+5): PyYAML already reads every other float form.
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def read_yaml(path: Path) -> Any:
    """A YAML file read strictly: UTF-8 text, YAML 1.2 numbers, no duplicate keys; errors as one RganError line."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RganError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RganError(f"{path}: not valid YAML: {where}{problem}") from None


def _kind_settings(kind: str, section: str) -> list[str]:
    classes = {"model": MODEL_CLASSES, "train": TRAIN_CLASSES}[section]
    return [name for name, f in classes[kind].model_fields.items() if not f.exclude]


def _without_kind_tag(loc: tuple) -> tuple[tuple, str | None]:
    """Pydantic puts the union's tag into an error's location (model.timegan.hidden): drop it, keep the kind."""
    if len(loc) >= 2 and loc[0] in ("model", "train") and loc[1] in KINDS:
        return (loc[0], *loc[2:]), str(loc[1])
    return loc, None


def _allowed_keys(loc: tuple, kind: str | None) -> list[str]:
    model: type[BaseModel] = Params
    for i, part in enumerate(loc[:-1]):
        if i == 0 and kind is not None:
            model = {"model": MODEL_CLASSES, "train": TRAIN_CLASSES}[str(part)][kind]
            continue
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return [name for name, f in model.model_fields.items() if not f.exclude]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: dict, source: str) -> str:
    loc, kind = _without_kind_tag(error["loc"])
    key = ".".join(str(p) for p in loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc, kind))
        def reads(other: str) -> bool:  # a setting or a group of settings of that kind's section
            return str(loc[1]) in _kind_settings(other, str(loc[0]))

        if kind is not None and len(loc) == 2 and any(reads(other) for other in KINDS if other != kind):
            users = [other for other in KINDS if reads(other)]
            return (f"{source}: {key} is not used by model.kind {kind} (only by {', '.join(users)}): remove it "
                    f"({loc[0]} settings of {kind}: {allowed})")
        return f"{source}: unknown key '{key}' (allowed here: {allowed})"
    if error["type"] == "union_tag_invalid":
        given = error["input"].get("kind") if isinstance(error.get("input"), dict) else error["ctx"]["tag"]
        return f"{source}: {key}.kind: must be one of {', '.join(KINDS)} (got {_shown(given)})"
    given = error.get("input")
    shown = "" if isinstance(given, dict) else f" (got {_shown(given)})"
    msg = error["msg"].removeprefix("Value error, ")
    if not key:  # a check across sections names its keys itself
        return f"{source}: {msg}"
    return f"{source}: {key}: {msg}{shown}"


def parse_params(raw: Any, source: str = DEFAULT_PARAMS) -> Params:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RganError(f"{source}: expected a mapping of sections ({', '.join(SECTIONS)}), got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "union_tag_invalid" and e["loc"] == ("model",) for e in errors):
            # train's class follows model.kind: with no valid kind its own error would only repeat the model's
            errors = [e for e in errors if not (e["loc"] == ("train",) and e["type"].startswith("union_tag"))]
        lines = [_describe(e, source) for e in errors]
        if len(lines) == 1:
            raise RganError(f"invalid params: {lines[0]}") from None
        raise RganError("invalid params:\n  " + "\n  ".join(lines)) from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    path = Path(path)
    if not path.is_file():
        raise RganError(f"params file not found: {path}")
    raw = read_yaml(path)
    params = parse_params(raw, str(path))
    # Defaults are the shipped params.yaml's values, so an omitted section is the documented one: say so.
    omitted = [name for name in SECTIONS if name not in (raw or {})]
    if len(omitted) == len(SECTIONS):
        note(f"{path} sets nothing: every setting is its documented default (see `rgan params`)")
    elif omitted:
        note(f"{path} has no {', '.join(omitted)} section{'s' if len(omitted) > 1 else ''}: documented defaults used")
    return params
