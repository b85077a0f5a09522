from kfp.dsl import Dataset, Input, Model, Output


def train(params: str, configuration: str, trial: bool, prepared: Input[Dataset], generator: Output[Model]):
    """Train a generator (params plus a sweep configuration's settings, JSON); track it in MLflow with every setting.
    A sweep trial trains for tune.steps and is scored on the validation windows, as `rgan tune` does."""
    from rgan.kubeflow.steps import train_step

    train_step(params, configuration, trial, prepared, generator)
