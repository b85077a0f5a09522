from kfp.dsl import Dataset, Output


def prepare(params: str, prepared: Output[Dataset]):
    """Fetch data.path from a DVC repository at a revision, or kubeflow.source.uri; scale and window it."""
    from rgan.kubeflow.steps import prepare_step

    prepare_step(params, prepared)
