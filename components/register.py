from kfp.dsl import Input, Markdown, Model, Output


def register(params: str, generator: Input[Model], outcome: Output[Markdown]) -> str:
    """Register the evaluated generator in MLflow; champion if it beats the champion and passes the gates."""
    from rgan.kubeflow.steps import register_step

    return register_step(params, generator, outcome)
