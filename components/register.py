from kfp.dsl import Markdown, Model, Output, Input


def register(mlflow: dict, registry: dict, generator: Input[Model], outcome: Output[Markdown]) -> str:
    """Register the evaluated generator in MLflow; champion if it beats the champion and passes the gates."""
    from rgan.kubeflow.steps import register_step

    return register_step({"mlflow": mlflow, "registry": registry}, generator, outcome)
