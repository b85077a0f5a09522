from kfp.dsl import Dataset, Input, Model, Output


def train(data: dict, model: dict, train: dict, evaluate: dict, mlflow: dict, registry: dict, overrides: dict,
          validation_repeats: int, trial_steps: int, prepared: Input[Dataset], generator: Output[Model]):
    """Train a generator (params plus a sweep trial's overrides); track it in MLflow with every setting. A sweep trial
    (validation_repeats > 0) trains for trial_steps and is scored on the validation windows, as `rgan tune` does."""
    from rgan.kubeflow.steps import train_step

    sections = {"data": data, "model": model, "train": train, "evaluate": evaluate, "mlflow": mlflow, "registry": registry}
    train_step(sections, overrides, prepared, generator, validation_repeats, trial_steps)
