"""The environment variables a step (or a served model) takes from Kubernetes secrets: MLflow's from
kubeflow.mlflow_secret, object-store keys from kubeflow.storage_secret. One list for the pipeline, the local
container runner and the KServe manifest."""

MLFLOW_KEYS = ("MLFLOW_TRACKING_URI",)
MLFLOW_OPTIONAL_KEYS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_INSECURE_TLS")
STORAGE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")
