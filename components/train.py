from kfp.dsl import Dataset, Input, Model, Output


def train(data: dict, model: dict, train: dict, evaluate: dict, mlflow: dict, registry: dict, overrides: dict,
          prepared: Input[Dataset], generator: Output[Model]):
    """Train a generator (params plus a sweep configuration's overrides); track it in MLflow with every setting."""
    from rgan.kubeflow.steps import train_step

    sections = {"data": data, "model": model, "train": train, "evaluate": evaluate, "mlflow": mlflow, "registry": registry}
    train_step(sections, overrides, prepared, generator)
