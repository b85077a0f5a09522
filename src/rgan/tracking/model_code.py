"""The file MLflow runs to build the model ("models from code"): see generator_model.py."""

from mlflow.models import set_model

from rgan.tracking.generator_model import GeneratorModel

set_model(GeneratorModel())
