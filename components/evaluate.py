from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output


def evaluate(params: str, prepared: Input[Dataset], generator: Input[Model],
             scores: Output[Metrics], report: Output[HTML], evaluated: Output[Model]):
    """Score the generator on held-out windows; log scores and plots into its MLflow run."""
    from rgan.kubeflow.steps import evaluate_step

    evaluate_step(params, prepared, generator, scores, report, evaluated)
