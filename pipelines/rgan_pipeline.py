"""rgan_pipeline (prepare -> train -> evaluate -> register) and its sweep variant, `rgan tune` on the cluster: the tune
search's trials trained in parallel for tune.steps and scored on the validation windows, the best (ranked as `rgan tune`
ranks) trained for train.steps, evaluated and registered. Every default comes from params.yaml at compile time; every
pipeline parameter can be overridden at submit. Placement (image, resources, GPUs, secrets) is compile-time."""


from kfp import dsl, kubernetes

import rgan_components as components  # components/, installed under this name (setup.py)
from rgan.config import Params
from rgan.kubeflow.pipeline import pipeline_defaults

# Pipeline parameters: these params.yaml sections as dicts, plus where the data comes from.
SECTIONS = ("data", "model", "train", "evaluate", "mlflow", "registry")
MLFLOW_KEYS = ("MLFLOW_TRACKING_URI",)
MLFLOW_OPTIONAL_KEYS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_INSECURE_TLS")
STORAGE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")


def _place(task, step: str, params: Params, tracked: bool):
    """Resources, GPU node pool and secrets of one step; none of it applies under kfp.local."""
    k = params.kubeflow
    r = k.resources[step]
    task.set_display_name(step)
    task.set_caching_options(False)  # every step reads or writes outside KFP (data source, MLflow): never skip one
    task.set_cpu_request(r.cpu).set_cpu_limit(r.cpu).set_memory_request(r.memory).set_memory_limit(r.memory)
    if r.gpu:
        task.set_accelerator_type(r.accelerator).set_accelerator_limit(r.gpu)
        for label, value in k.gpu_node_selector.items():
            kubernetes.add_node_selector(task, label_key=label, label_value=value)
        for t in k.gpu_tolerations:
            kubernetes.add_toleration(task, key=t.key, operator=t.operator, value=t.value, effect=t.effect)
    if tracked:
        kubernetes.use_secret_as_env(task, k.mlflow_secret, {key: key for key in MLFLOW_KEYS})
        kubernetes.use_secret_as_env(task, k.mlflow_secret, {key: key for key in MLFLOW_OPTIONAL_KEYS}, optional=True)
    if k.storage_secret:  # data and MLflow artifacts in an object store
        kubernetes.use_secret_as_env(task, k.storage_secret, {key: key for key in STORAGE_KEYS}, optional=True)
    return task


def build(params: Params, image: str | None = None, sweep: bool = False):
    """The pipeline function for these params: defaults from them, components in `image` (default kubeflow.image)."""
    c = components.build(image or params.kubeflow.image)
    d = pipeline_defaults(params)
    name = params.kubeflow.pipeline_name

    def train(s: dict, prepared, overrides, validation_repeats=0, trial_steps=0):
        return _place(c.train(data=s["data"], model=s["model"], train=s["train"], evaluate=s["evaluate"], mlflow=s["mlflow"],
                              registry=s["registry"], overrides=overrides, validation_repeats=validation_repeats,
                              trial_steps=trial_steps, prepared=prepared), "train", params, True)

    def evaluate(s: dict, prepared, generator):
        return _place(c.evaluate(evaluate=s["evaluate"], mlflow=s["mlflow"], prepared=prepared, generator=generator),
                      "evaluate", params, True)

    train_, evaluate_ = train, evaluate  # the pipelines' parameters `train` and `evaluate` shadow these names

    def register(s: dict, generator):
        return _place(c.register(mlflow=s["mlflow"], registry=s["registry"], generator=generator), "register", params, True)

    if not sweep:
        @dsl.pipeline(name=name, description="prepare -> train -> evaluate -> register a recurrent GAN generator")
        def rgan_pipeline(data: dict = d["data"], model: dict = d["model"], train: dict = d["train"], evaluate: dict = d["evaluate"],
                          mlflow: dict = d["mlflow"], registry: dict = d["registry"], source: dict = d["source"]) -> str:
            s = {"data": data, "model": model, "train": train, "evaluate": evaluate, "mlflow": mlflow, "registry": registry}
            prepared = _place(c.prepare(data=data, source=source), "prepare", params, False)
            trained = train_(s, prepared.outputs["prepared"], {})
            evaluated = evaluate_(s, prepared.outputs["prepared"], trained.outputs["generator"])
            return register(s, evaluated.outputs["evaluated"]).outputs["Output"]

        return rgan_pipeline

    @dsl.pipeline(name=f"{name}-sweep", description="rgan tune on the cluster: trials in parallel, the best trained, evaluated, registered")
    def rgan_sweep(data: dict = d["data"], model: dict = d["model"], train: dict = d["train"], evaluate: dict = d["evaluate"],
                   mlflow: dict = d["mlflow"], registry: dict = d["registry"], source: dict = d["source"],
                   configurations: list = d["configurations"], validation_repeats: int = d["validation_repeats"],
                   trial_steps: int = d["trial_steps"]) -> str:
        s = {"data": data, "model": model, "train": train, "evaluate": evaluate, "mlflow": mlflow, "registry": registry}
        prepared = _place(c.prepare(data=data, source=source), "prepare", params, False)
        with dsl.ParallelFor(configurations, parallelism=params.kubeflow.sweep.parallelism) as configuration:
            trial = train_(s, prepared.outputs["prepared"], configuration, validation_repeats, trial_steps)
        best = _place(c.select(candidates=dsl.Collected(trial.outputs["generator"])), "select", params, False)
        final = train_(s, prepared.outputs["prepared"], best.outputs["Output"]).set_display_name("train best")
        evaluated = evaluate_(s, prepared.outputs["prepared"], final.outputs["generator"])
        return register(s, evaluated.outputs["evaluated"]).outputs["Output"]

    return rgan_sweep
