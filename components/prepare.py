from kfp.dsl import Dataset, Output


def prepare(data: dict, source: dict, prepared: Output[Dataset]):
    """Fetch data.path from a DVC repository at a revision, or source.uri; scale and window it."""
    from rgan.kubeflow.steps import prepare_step

    prepare_step({"data": data}, source, prepared)
