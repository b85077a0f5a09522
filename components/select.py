from typing import List

from kfp.dsl import Input, Markdown, Model, Output


def select(candidates: Input[List[Model]], leaderboard: Output[Markdown]) -> str:
    """The sweep's fan-in: the settings (JSON) of the best trial on the validation windows, ranked as `rgan tune` ranks."""
    from rgan.kubeflow.steps import select_step

    return select_step(candidates, leaderboard)
