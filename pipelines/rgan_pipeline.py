"""rgan_pipeline (prepare -> train -> evaluate -> register) and its sweep variant, `rgan tune` on the cluster: the tune
search's trials trained in parallel for tune.steps and scored on the validation windows, the best (ranked as `rgan tune`
ranks) trained for train.steps, evaluated and registered. Every default comes from params.yaml at compile time; every
pipeline parameter can be overridden at submit. Placement (image, resources, GPUs, secrets) is compile-time."""

from typing import List

import rgan_components as components  # components/, installed under this name (setup.py)
from kfp import dsl, kubernetes

from rgan.config import Params
from rgan.kubeflow.pipeline import pipeline_defaults
from rgan.kubeflow.secrets import MLFLOW_KEYS, MLFLOW_OPTIONAL_KEYS, STORAGE_KEYS


def _place(task, step: str, settings: Params, tracked: bool):
    """Resources, GPU node pool and secrets of one step; none of it applies under kfp.local."""
    k = settings.kubeflow
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


def build(settings: Params, image: str | None = None, sweep: bool = False):
    """The pipeline function for these settings: defaults from them, components in `image` (default kubeflow.image).
    Its parameter `params` is the whole params document (JSON); each step validates it."""
    c = components.build(image or settings.kubeflow.image)
    d = pipeline_defaults(settings, sweep)
    name = settings.kubeflow.pipeline_name

    def train(params, prepared, configuration, trial: bool = False):
        return _place(c.train(params=params, configuration=configuration, trial=trial, prepared=prepared), "train", settings, True)

    def evaluate(params, prepared, generator):
        return _place(c.evaluate(params=params, prepared=prepared, generator=generator), "evaluate", settings, True)

    def register(params, generator):
        return _place(c.register(params=params, generator=generator), "register", settings, True)

    if not sweep:
        @dsl.pipeline(name=name, description="prepare -> train -> evaluate -> register a recurrent GAN generator")
        def rgan_pipeline(params: str = d["params"]) -> str:
            prepared = _place(c.prepare(params=params), "prepare", settings, False)
            trained = train(params, prepared.outputs["prepared"], "{}")
            evaluated = evaluate(params, prepared.outputs["prepared"], trained.outputs["generator"])
            return register(params, evaluated.outputs["evaluated"]).outputs["Output"]

        return rgan_pipeline

    @dsl.pipeline(name=f"{name}-sweep", description="rgan tune on the cluster: trials in parallel, the best trained, evaluated, registered")
    def rgan_sweep(params: str = d["params"], configurations: List[str] = d["configurations"]) -> str:
        prepared = _place(c.prepare(params=params), "prepare", settings, False)
        with dsl.ParallelFor(configurations, parallelism=settings.kubeflow.sweep.parallelism) as configuration:
            trial = train(params, prepared.outputs["prepared"], configuration, trial=True)
        best = _place(c.select(candidates=dsl.Collected(trial.outputs["generator"])), "select", settings, False)
        final = train(params, prepared.outputs["prepared"], best.outputs["Output"]).set_display_name("train best")
        evaluated = evaluate(params, prepared.outputs["prepared"], final.outputs["generator"])
        return register(params, evaluated.outputs["evaluated"]).outputs["Output"]

    return rgan_sweep
