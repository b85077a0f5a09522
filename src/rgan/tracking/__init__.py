"""MLflow: run tracking, the generator as an MLflow model, and the model registry."""
