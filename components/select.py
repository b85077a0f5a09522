from typing import List

from kfp.dsl import Input, Markdown, Model, Output


def select(registry: dict, candidates: Input[List[Model]], best: Output[Model], leaderboard: Output[Markdown]):
    """The sweep's fan-in: the best evaluated generator by the registry's ranking metric."""
    from rgan.kubeflow.steps import select_step

    select_step({"registry": registry}, candidates, best, leaderboard)
